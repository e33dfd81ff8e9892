"""The PrivateLink lab's provider stack in the AWS CDK (Python): the same resources as
examples/cloudformation/provider.yaml.

L1 constructs (`Cfn*`) throughout: the L2 `ec2.Instance` adds an IAM role and instance
profile, and `ec2.Vpc.from_lookup` needs a lookup in the target account at synth time;
neither is part of the lab. The VPC, subnets and image are parameters, as in the
CloudFormation template, so one synthesized template deploys in any account and region.
"""
from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from constructs import Construct

#: The catalogue's Amazon Linux 2023 x86_64 image in ap-south-1 (vpclab/control/ec2/images.py).
AMAZON_LINUX_2023 = "ami-7551d8375ecf13b4a"

USER_DATA = "#!/bin/bash\nyum install -y nginx\nsystemctl enable --now nginx\n"


class ProviderStack(cdk.Stack):
    """nginx behind a TCP target group and an internet-facing NLB, published as an
    endpoint service that requires acceptance, with a permission for the consumer."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)

        vpc_id = cdk.CfnParameter(self, "VpcId", type="AWS::EC2::VPC::Id",
                                  description="The VPC to serve from (the account's default VPC in the lab).")
        subnets = cdk.CfnParameter(self, "Subnets", type="List<AWS::EC2::Subnet::Id>",
                                   description="The subnets of the load balancer, one per Availability Zone "
                                               "(the instance goes in the first).")
        image_id = cdk.CfnParameter(self, "ImageId", type="AWS::EC2::Image::Id", default=AMAZON_LINUX_2023,
                                    description="The instance's image (Amazon Linux 2023, x86_64).")
        instance_type = cdk.CfnParameter(self, "InstanceType", type="String", default="t2.micro",
                                         allowed_values=["t2.micro", "t3.micro", "t3.small"])
        consumer = cdk.CfnParameter(self, "ConsumerPrincipal", type="String",
                                    default="arn:aws:iam::222222222222:root",
                                    allowed_pattern=r"^arn:aws:iam::\d{12}:root$",
                                    description="Who may connect to the endpoint service.")

        web = ec2.CfnSecurityGroup(
            self, "WebSecurityGroup", group_description="HTTP to the nginx server",
            vpc_id=vpc_id.value_as_string,
            security_group_ingress=[ec2.CfnSecurityGroup.IngressProperty(
                ip_protocol="tcp", from_port=80, to_port=80, cidr_ip="0.0.0.0/0")],
            tags=[cdk.CfnTag(key="Name", value="demo-server-sg")])

        server = ec2.CfnInstance(
            self, "ServerInstance", image_id=image_id.value_as_string, instance_type=instance_type.value_as_string,
            subnet_id=cdk.Fn.select(0, subnets.value_as_list),
            security_group_ids=[web.attr_group_id],
            user_data=cdk.Fn.base64(USER_DATA),
            tags=[cdk.CfnTag(key="Name", value="demo-server-instance")])
        # The image is the ImageId parameter; only its default is a fixed id (each region's
        # is different, so a deploy elsewhere passes its own).
        cdk.Validations.of(server).acknowledge(cdk.Acknowledgment(
            id="CloudFormation-Validate::W9010", reason="the image id is a parameter's default"))

        target_group = elbv2.CfnTargetGroup(
            self, "TargetGroup", name="demo-service-tg", protocol="TCP", port=80,
            vpc_id=vpc_id.value_as_string, target_type="instance",
            targets=[elbv2.CfnTargetGroup.TargetDescriptionProperty(id=server.ref, port=80)])

        nlb = elbv2.CfnLoadBalancer(
            self, "LoadBalancer", name="demo-service-nlb", type="network", scheme="internet-facing",
            subnets=subnets.value_as_list, security_groups=[web.attr_group_id])

        elbv2.CfnListener(
            self, "Listener", load_balancer_arn=nlb.ref, protocol="TCP", port=80,
            default_actions=[elbv2.CfnListener.ActionProperty(
                type="forward", target_group_arn=target_group.ref)])

        service = ec2.CfnVPCEndpointService(
            self, "EndpointService", network_load_balancer_arns=[nlb.ref], acceptance_required=True,
            tags=[cdk.CfnTag(key="Name", value="demo-service-provider")])

        ec2.CfnVPCEndpointServicePermissions(
            self, "EndpointServicePermissions", service_id=service.ref,
            allowed_principals=[consumer.value_as_string])

        cdk.CfnOutput(self, "ServiceName", value=f"com.amazonaws.vpce.{self.region}.{service.ref}",
                      export_name=f"{self.stack_name}-ServiceName",
                      description="What the consumer's endpoint names.")
        cdk.CfnOutput(self, "ServiceId", value=service.ref, export_name=f"{self.stack_name}-ServiceId",
                      description="The endpoint service, whose connections the provider accepts.")
        cdk.CfnOutput(self, "LoadBalancerDnsName", value=nlb.attr_dns_name, description="The NLB's DNS name.")


def synthesize(outdir: str, stack_name: str = "demo-provider-cdk") -> dict:
    """The provider stack's CloudFormation template, synthesized in-process into `outdir`.

    The synthesizer adds no bootstrap-version rule or parameter (and no CDK metadata
    resource), so the template deploys where `cdk bootstrap` never ran: the stack uses no
    assets, and so no bootstrap bucket or roles."""
    app = cdk.App(outdir=outdir, analytics_reporting=False)
    ProviderStack(app, stack_name,
                  synthesizer=cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False))
    template: dict = app.synth().get_stack_by_name(stack_name).template
    return template
