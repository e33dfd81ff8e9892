// Not built yet: see vpclab/console/README.md (issue 12).
"use strict";
