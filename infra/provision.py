"""Creates the template's AWS resources in moto (or any endpoint): tables with streams and
TTL, the bus, queues with their DLQ redrive, the rules with their targets and buckets; the
analytics catalogue (Glue, Athena) is only named, as locally DuckDB answers the queries. Returns
the resolver, so callers can name what was made."""
from __future__ import annotations

import json
import os

import boto3

from .cfn import Resolver, load_template

ACCOUNT = "123456789012"
# Template parameters the local stack takes from the environment (as a deploy takes them).
PARAMETER_SETTINGS = {"ShopifyShopDomain": "OMS_SHOPIFY_SHOP_DOMAIN"}


def _condition(test, parameters: dict[str, str]) -> bool:
    """The few condition functions the template uses: Not, Equals, And, Or over Refs and literals."""
    def value(v):
        return parameters[v["Ref"]] if isinstance(v, dict) and "Ref" in v else v
    (function, args), = test.items()
    if function == "Fn::Not":
        return not _condition(args[0], parameters)
    if function == "Fn::Equals":
        return value(args[0]) == value(args[1])
    if function in ("Fn::And", "Fn::Or"):
        results = [_condition(arg, parameters) for arg in args]
        return all(results) if function == "Fn::And" else any(results)
    raise ValueError(f"condition function {function} is not supported locally")


def provision(stage: str, region: str, visibility_timeout: int | None = None) -> tuple[dict, Resolver]:
    template = load_template()
    resources = template["Resources"]
    parameters = {name: str(p.get("Default", "")) for name, p in template.get("Parameters", {}).items()}
    parameters.update(Stage=stage, MailFrom=os.environ.get("OMS_MAIL_FROM") or parameters.get("MailFrom", ""))
    resolver = Resolver(parameters, {"AWS::Region": region, "AWS::AccountId": ACCOUNT,
                                           "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"})
    parameters.update({name: os.environ[setting] for name, setting in PARAMETER_SETTINGS.items()
                       if os.environ.get(setting)})
    holds = {name: _condition(test, parameters) for name, test in template.get("Conditions", {}).items()}
    by_type: dict[str, list[tuple[str, dict]]] = {}
    for logical_id, resource in resources.items():
        if "Condition" in resource and not holds[resource["Condition"]]:
            continue
        by_type.setdefault(resource["Type"], []).append((logical_id, resource.get("Properties", {})))

    dynamodb = boto3.client("dynamodb", region_name=region)
    for logical_id, props in by_type.get("AWS::DynamoDB::Table", []):
        name = resolver.resolve(props["TableName"])
        args = {k: props[k] for k in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes") if k in props}
        stream = props.get("StreamSpecification")
        if stream:
            args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        table = dynamodb.create_table(TableName=name, BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
                                      **args)["TableDescription"]
        if "TimeToLiveSpecification" in props:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=props["TimeToLiveSpecification"])
        resolver.refs[logical_id] = name
        resolver.attributes[(logical_id, "Arn")] = table["TableArn"]
        if stream:
            resolver.attributes[(logical_id, "StreamArn")] = table["LatestStreamArn"]

    events = boto3.client("events", region_name=region)
    for logical_id, props in by_type.get("AWS::Events::EventBus", []):
        name = resolver.resolve(props["Name"])
        arn = events.create_event_bus(Name=name)["EventBusArn"]
        resolver.refs[logical_id] = name
        resolver.attributes[(logical_id, "Arn")] = arn
        resolver.attributes[(logical_id, "Name")] = name

    sqs = boto3.client("sqs", region_name=region)
    queues = by_type.get("AWS::SQS::Queue", [])
    for logical_id, props in queues:  # first every queue, then redrive (DLQ ARNs must exist)
        name = resolver.resolve(props["QueueName"])
        attributes = {"MessageRetentionPeriod": str(props.get("MessageRetentionPeriod", 345600)),
                      "VisibilityTimeout": str(props.get("VisibilityTimeout", 30) if visibility_timeout is None
                                                  else visibility_timeout)}
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        resolver.refs[logical_id] = url
        resolver.attributes[(logical_id, "Arn")] = f"arn:aws:sqs:{region}:{ACCOUNT}:{name}"
        resolver.attributes[(logical_id, "QueueName")] = name
    for logical_id, props in queues:
        if "RedrivePolicy" in props:
            sqs.set_queue_attributes(QueueUrl=resolver.refs[logical_id], Attributes={
                "RedrivePolicy": json.dumps(resolver.resolve(props["RedrivePolicy"]))})

    for logical_id, props in by_type.get("AWS::Events::Rule", []):
        bus = resolver.resolve(props.get("EventBusName", "default"))
        arn = events.put_rule(Name=logical_id, EventBusName=bus, EventPattern=json.dumps(props["EventPattern"]),
                              State="ENABLED")["RuleArn"]
        resolver.attributes[(logical_id, "Arn")] = arn
        events.put_targets(Rule=logical_id, EventBusName=bus,
                           Targets=[{"Id": t["Id"], "Arn": resolver.resolve(t["Arn"])} for t in props["Targets"]])
    s3 = boto3.client("s3", region_name=region)
    for logical_id, props in by_type.get("AWS::S3::Bucket", []):
        name = resolver.resolve(props["BucketName"])
        s3.create_bucket(Bucket=name, **({} if region == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": region}}))
        resolver.refs[logical_id] = name
        resolver.attributes[(logical_id, "Arn")] = f"arn:aws:s3:::{name}"
        queues_config = props.get("NotificationConfiguration", {}).get("QueueConfigurations", [])
        if queues_config:
            s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration={"QueueConfigurations": [
                {"QueueArn": resolver.resolve(c["Queue"]), "Events": [c["Event"]],
                 "Filter": {"Key": {"FilterRules": c["Filter"]["S3Key"]["Rules"]}}} for c in queues_config]})

    # The analytics catalogue is only named, not made: locally DuckDB reads the files and nothing
    # asks Glue or Athena (creating them cost every test's stack a tenth of a second).
    for logical_id, props in by_type.get("AWS::Glue::Database", []):
        resolver.refs[logical_id] = resolver.resolve(props["DatabaseInput"])["Name"]
    for logical_id, props in by_type.get("AWS::Glue::Table", []):
        resolver.refs[logical_id] = resolver.resolve(props["TableInput"]["Name"])
    for logical_id, props in by_type.get("AWS::Athena::WorkGroup", []):
        resolver.refs[logical_id] = resolver.resolve(props["Name"])

    sesv2 = boto3.client("sesv2", region_name=region)
    for _, props in by_type.get("AWS::SES::EmailIdentity", []):
        sesv2.create_email_identity(EmailIdentity=resolver.resolve(props["EmailIdentity"]))
    return template, resolver
