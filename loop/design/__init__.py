"""Design spaces and features: the candidates a campaign may ask for, as arrays."""

from loop.design.space import DesignSpace, build_design_space

__all__ = ["DesignSpace", "build_design_space"]
