"""Guided labs: AWS scenarios run step by step through boto3 against vpclab."""
