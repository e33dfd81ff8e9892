// Drives vpclab with the AWS SDK for JavaScript v3, as a Node.js program would:
// prints one JSON line with what each call returned.
import { EC2Client, DescribeVpcsCommand, CreateSecurityGroupCommand } from "@aws-sdk/client-ec2";
import { ElasticLoadBalancingV2Client, DescribeLoadBalancersCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { STSClient, GetCallerIdentityCommand } from "@aws-sdk/client-sts";

const config = {
  endpoint: process.env.VPCLAB_URL,
  region: "ap-south-1",
  credentials: { accessKeyId: process.env.KEY_ID, secretAccessKey: process.env.SECRET },
  maxAttempts: 1,
};
const ec2 = new EC2Client(config);
const out = {};
out.account = (await new STSClient(config).send(new GetCallerIdentityCommand({}))).Account;
out.vpcs = (await ec2.send(new DescribeVpcsCommand({}))).Vpcs.map((v) => v.CidrBlock);
out.group = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: "js-sdk", Description: "from JS" }))).GroupId;
out.loadBalancers = (await new ElasticLoadBalancingV2Client(config).send(new DescribeLoadBalancersCommand({}))).LoadBalancers.length;
try {
  await ec2.send(new CreateSecurityGroupCommand({ GroupName: "js-sdk", Description: "again" }));
} catch (err) {
  out.duplicate = err.name;
}
console.log(JSON.stringify(out));
