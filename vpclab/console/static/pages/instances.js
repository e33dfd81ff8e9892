// EC2 > Instances: the list, an instance's details, Launch instances, Instance state.
"use strict";

import {aws, el, header, nameTag, page, stateBadge, table} from "../lib.js";

const COLUMNS = [
  {title: "Name", value: (i) => nameTag(i.Tags)},
  {title: "Instance ID", value: (i) => i.InstanceId},
  {title: "Instance state", value: (i) => stateBadge(i.State.Name)},
  {title: "Instance type", value: (i) => i.InstanceType},
  {title: "Availability Zone", value: (i) => i.Placement.AvailabilityZone},
  {title: "Public IPv4 address", value: (i) => i.PublicIpAddress || "–"},
  {title: "Private IP address", value: (i) => i.PrivateIpAddress || "–"},
];

page("#/ec2/instances", async (root) => {
  const out = await aws("ec2", "DescribeInstances", {});
  const items = out.Reservations.flatMap((r) => r.Instances);
  root.append(header("Instances", items.length), table("Instances", COLUMNS, items));
});
