"""One module per build step; each is a plain function with typed inputs and outputs.

validate -> training_set -> train -> evaluate -> gate -> register
"""
