#!/usr/bin/env python3
"""The CDK app's entry point, which `cdk.json` names for the CDK CLI (`cdk synth`); `python
app.py` does the same without it: the provider stack's cloud assembly in ./cdk.out (or the
CLI's CDK_OUTDIR), and its template on stdout."""
from __future__ import annotations

import json
import os
import sys

from provider_stack import synthesize

if __name__ == "__main__":
    template = synthesize(os.environ.get("CDK_OUTDIR", "cdk.out"), *sys.argv[1:2])
    print(json.dumps(template, indent=1))
