"""One module per build step; each is a plain function with typed inputs and outputs.

validate -> labels -> training_set -> train -> evaluate -> gate -> register
"""
