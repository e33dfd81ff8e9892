"""The region and the two accounts of the seed lab, as every test names them."""
from __future__ import annotations

REGION = "ap-south-1"
ACCOUNT_1 = "111111111111"  # provides
ACCOUNT_2 = "222222222222"  # consumes
