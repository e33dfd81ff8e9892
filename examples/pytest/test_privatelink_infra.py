"""Tests of privatelink_infra.py against vpclab, with the fixtures of vpclab's pytest
plugin: `vpclab` (one lab for the run), `vpclab_account` (a fresh account per test),
`aws_environ` (the AWS_* variables of that account), and the `dataplane` marker.

Every test builds resources with the same names ("demo-tg", "demo-nlb", ...) in its own
accounts, so none sees another's. The control-plane tests run anywhere; those marked
`dataplane` carry real traffic and skip, saying why, where namespaces cannot be made.
"""
import os
import subprocess
import sys

import boto3
import pytest
from botocore.exceptions import ClientError

from privatelink_infra import accept, allow, build_consumer, build_provider, endpoint_state
from vpclab.testing import CurlFailed

POLL = 0.1  # seconds between a waiter's looks (AWS's default is 15: vpclab settles in moments)


@pytest.fixture
def consumer_account(vpclab):
    """The consumer's own account, as fresh as `vpclab_account` (the provider's)."""
    return vpclab.new_account()


def test_the_service_is_invisible_until_the_provider_allows_the_consumer(vpclab, vpclab_account,
                                                                         consumer_account):
    provider = build_provider(vpclab.session(vpclab_account), poll=POLL)
    consumer_session = vpclab.session(consumer_account)

    with pytest.raises(ClientError) as refused:
        build_consumer(consumer_session, provider.service_name, poll=POLL)
    assert refused.value.response["Error"]["Code"] == "InvalidServiceName"

    allow(vpclab.session(vpclab_account), provider, consumer_account)
    consumer = build_consumer(consumer_session, provider.service_name, poll=POLL)
    assert endpoint_state(consumer_session, consumer) == "pendingAcceptance"


def test_the_endpoint_is_available_once_accepted(vpclab, vpclab_account, consumer_account):
    provider_session, consumer_session = vpclab.session(vpclab_account), vpclab.session(consumer_account)
    provider = build_provider(provider_session, poll=POLL)
    allow(provider_session, provider, consumer_account)
    consumer = build_consumer(consumer_session, provider.service_name, poll=POLL)

    connections = provider_session.client("ec2").describe_vpc_endpoint_connections()["VpcEndpointConnections"]
    assert [(c["VpcEndpointId"], c["VpcEndpointOwner"], c["VpcEndpointState"]) for c in connections] == [
        (consumer.endpoint_id, consumer_account, "pendingAcceptance")]

    accept(provider_session, provider, consumer, poll=POLL)
    assert endpoint_state(consumer_session, consumer) == "available"


def test_code_that_builds_its_own_clients_reads_aws_environ(vpclab, vpclab_account, aws_environ):
    """Code under test that makes `boto3.Session()` itself, and the AWS CLI in a
    subprocess, both reach the lab as the test's account through the variables."""
    pytest.importorskip("awscli", reason="the AWS CLI (pip install awscli) runs in this test")
    assert aws_environ["AWS_ACCESS_KEY_ID"] == vpclab_account == os.environ["AWS_ACCESS_KEY_ID"]
    provider = build_provider(boto3.Session(), poll=POLL)

    cli = subprocess.run([sys.executable, "-m", "awscli", "ec2", "describe-vpc-endpoint-service-configurations",
                          "--query", "ServiceConfigurations[].ServiceName", "--output", "text"],
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.split() == [provider.service_name]
    # Another account (the lab's default one) sees none of it.
    assert vpclab.client("ec2").describe_vpc_endpoint_service_configurations(
        Filters=[{"Name": "service-name", "Values": [provider.service_name]}])["ServiceConfigurations"] == []


@pytest.mark.dataplane
def test_nginx_answers_through_the_endpoint_only_after_acceptance(vpclab, vpclab_account, consumer_account):
    provider_session, consumer_session = vpclab.session(vpclab_account), vpclab.session(consumer_account)
    provider = build_provider(provider_session, poll=POLL)
    allow(provider_session, provider, consumer_account)
    consumer = build_consumer(consumer_session, provider.service_name, poll=POLL)
    url = f"http://{consumer.endpoint_dns_name}/"

    # Pending acceptance: the name resolves inside the consumer's VPC, nothing answers.
    with pytest.raises(CurlFailed) as before:
        vpclab.curl(consumer.instance_id, url, timeout=2)
    assert before.value.exit_code in (7, 28), before.value  # refused, or timed out

    accept(provider_session, provider, consumer, poll=POLL)
    page = vpclab.wait_until_reachable(consumer.instance_id, url, timeout=60)
    assert "Welcome to nginx!" in page
