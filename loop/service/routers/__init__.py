"""One router per resource: campaigns, proposals, results, tokens."""
