"""Protocol layer: AWS wire formats driven by the botocore service models."""
