import types

import agents


def test_public_face_matches_all():
    public = {name for name, value in vars(agents).items()
              if not name.startswith("_") and not isinstance(value, types.ModuleType)}
    assert public == set(agents.__all__)
