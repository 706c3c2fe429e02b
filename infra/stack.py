#!/usr/bin/env python3
"""Offline tooling for infra/template.yaml.

  openapi           write build/openapi-apigw.yaml: infra/openapi.yaml (OpenAPI 3.1, the API's
                    source) in the OpenAPI 3.0 form API Gateway imports, with SigV4 (IAM)
                    authorisation unless the stack's ApiAuthorization is NONE
  transform         the template after the SAM transform, as CloudFormation JSON (AWS::Include
                    inlined, as CloudFormation does before the SAM transform)
  deploy-emulator   deploy the transformed template's resources that moto supports (streams,
                    tables, queues, buckets, KMS key) as a CloudFormation stack into moto, with
                    the template's defaults or `--parameter Key=Value`, and print the stack
                    outputs and the functions' environment, resolved, as JSON
  output            print one output of a deployed stack (AWS credentials from the usual chain)
  model-artifact    model.tar.gz for SageMaker's built-in XGBoost: models/model.json saved by
                    XGBoost as `xgboost-model`, checked to predict what the JSON model predicts

The emulator deployment is how the tests check that the names, keys and indexes in the
template are the ones the code uses.
"""

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

import yaml

INFRA = Path(__file__).resolve().parent
TEMPLATE = INFRA / "template.yaml"
OPENAPI = INFRA / "openapi.yaml"
OPENAPI_APIGW = INFRA / "build" / "openapi-apigw.yaml"

# What moto's CloudFormation creates for real: the data plane the functions talk to.
EMULATED_TYPES = {
    "AWS::KMS::Key",
    "AWS::Kinesis::Stream",
    "AWS::DynamoDB::Table",
    "AWS::SQS::Queue",
    "AWS::S3::Bucket",
}

PSEUDO_PARAMETERS = {
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::AccountId": "123456789012",
}


# ---- CloudFormation YAML (short-form intrinsics) -----------------------------------------------


class CfnLoader(yaml.SafeLoader):
    pass


def _intrinsic(tag, node, loader):
    name = "Ref" if tag == "Ref" else f"Fn::{tag}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


for _tag in [
    "Ref", "GetAtt", "Sub", "If", "Equals", "Not", "And", "Or", "Select", "Split", "Join",
    "FindInMap", "Base64", "GetAZs", "ImportValue", "Cidr", "Condition", "Transform",
]:
    CfnLoader.add_constructor(f"!{_tag}", lambda loader, node, t=_tag: _intrinsic(t, node, loader))


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=CfnLoader)


# ---- OpenAPI 3.1 → API Gateway's OpenAPI 3.0 ---------------------------------------------------


def to_openapi_30(node):
    """Rewrites the 3.1-only (JSON Schema 2020-12) constructs the spec uses: `type: [T, 'null']`
    becomes `type: T, nullable: true`; `const: x` becomes `enum: [x]`; a schema's `examples`
    list becomes its first `example`; `if`/`then`/`else` go (API Gateway HTTP APIs do not
    validate bodies; the function enforces these conditional requirements)."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "type" and isinstance(value, list):
                kinds = [k for k in value if k != "null"]
                if len(kinds) != 1:
                    raise ValueError(f"cannot express type {value} in OpenAPI 3.0")
                out["type"] = kinds[0]
                if "null" in value:
                    out["nullable"] = True
            elif key == "const":
                out["enum"] = [value]
            elif key == "examples" and isinstance(value, list):
                if value:
                    out["example"] = to_openapi_30(value[0])
            elif key in ("if", "then", "else"):
                continue
            else:
                out[key] = to_openapi_30(value)
        for combinator in ("allOf", "anyOf", "oneOf"):
            if combinator in out:
                kept = [s for s in out[combinator] if s != {}]
                if kept:
                    out[combinator] = kept
                else:
                    del out[combinator]
        return out
    if isinstance(node, list):
        return [to_openapi_30(v) for v in node]
    return node


def apigw_openapi():
    spec = to_openapi_30(load_yaml(OPENAPI))
    spec["openapi"] = "3.0.1"
    spec.get("info", {}).get("license", {}).pop("identifier", None)
    # HTTP APIs: IAM authorisation is a security scheme of type apiKey on Authorization with
    # this extension; `security: []` leaves the routes open (ApiAuthorization=NONE).
    spec.setdefault("components", {}).setdefault("securitySchemes", {})["sigv4"] = {
        "type": "apiKey",
        "name": "Authorization",
        "in": "header",
        "x-amazon-apigateway-authtype": "awsSigv4",
    }
    spec["security"] = {"Fn::If": ["ApiUsesIam", [{"sigv4": []}], []]}
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "x-amazon-apigateway-integration" not in operation:
                raise ValueError(f"{method.upper()} {path} has no x-amazon-apigateway-integration")
    return spec


def write_openapi():
    OPENAPI_APIGW.parent.mkdir(parents=True, exist_ok=True)
    header = "# Generated by `python3 infra/stack.py openapi` from infra/openapi.yaml: do not edit.\n"
    OPENAPI_APIGW.write_text(header + yaml.safe_dump(apigw_openapi(), sort_keys=False), encoding="utf-8")
    return OPENAPI_APIGW


# ---- SAM transform -----------------------------------------------------------------------------


def inline_includes(node, base):
    if isinstance(node, dict):
        transform = node.get("Fn::Transform")
        if len(node) == 1 and isinstance(transform, dict) and transform.get("Name") == "AWS::Include":
            return load_yaml(base / transform["Parameters"]["Location"])
        return {k: inline_includes(v, base) for k, v in node.items()}
    if isinstance(node, list):
        return [inline_includes(v, base) for v in node]
    return node


class _NoManagedPolicies:
    """The template names no managed policies; the translator must not call IAM."""

    def load(self):
        return {}


def transform(parameters=None):
    from samtranslator.translator.transform import transform as sam_transform

    # The translator picks the partition (aws, aws-cn, ...) from the region; offline there is none.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    write_openapi()
    template = inline_includes(load_yaml(TEMPLATE), INFRA)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            # `sam build` / `sam package` put the built bootstrap zip here.
            resource["Properties"]["CodeUri"] = "s3://roamguard-artifacts/function.zip"
    return sam_transform(template, parameters or {}, _NoManagedPolicies())


# ---- deployment into moto ----------------------------------------------------------------------


def references(node):
    """Logical ids a fragment refers to (Ref, Fn::GetAtt, ${X} and ${X.Attr} in Fn::Sub)."""
    found = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                if not value.startswith("AWS::"):
                    found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".")[0])
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                local = set(value[1]) if isinstance(value, list) and len(value) > 1 else set()
                for part in text.split("${")[1:]:
                    name = part.split("}")[0].split(".")[0]
                    if not name.startswith("AWS::") and name not in local:
                        found.add(name)
                if isinstance(value, list) and len(value) > 1:
                    found |= references(value[1])
            else:
                found |= references(value)
    elif isinstance(node, list):
        for value in node:
            found |= references(value)
    return found


def emulated_subset(template):
    """The resources moto can create, and the outputs that only need those."""
    kept = copy.deepcopy(template)
    kept["Resources"] = {k: v for k, v in template["Resources"].items() if v["Type"] in EMULATED_TYPES}
    for resource in kept["Resources"].values():
        # Retain is for AWS; the emulator stack is thrown away.
        resource.pop("DeletionPolicy", None)
        resource.pop("UpdateReplacePolicy", None)
    known = set(kept["Resources"]) | set(template.get("Parameters", {}))
    missing = {k: references(v) - known for k, v in kept["Resources"].items()}
    if any(missing.values()):
        raise ValueError(f"emulated resources refer to resources moto cannot create: {missing}")
    kept["Outputs"] = {
        k: v for k, v in template.get("Outputs", {}).items()
        if "Condition" not in v and references(v["Value"]) <= known
    }
    kept.pop("Rules", None)
    return kept


def parameter_values(template, given):
    """The template's parameter defaults with `given` on top; unknown names are an error."""
    declared = template.get("Parameters", {})
    unknown = set(given) - set(declared)
    if unknown:
        raise ValueError(f"the template has no parameters {sorted(unknown)}")
    values = {k: str(v.get("Default", "")) for k, v in declared.items()}
    values.update(given)
    return values


def evaluate_conditions(template, parameters):
    """Every condition of the template, evaluated on `parameters` (Fn::Equals / Not / And / Or,
    Condition, Ref)."""
    declared = template.get("Conditions", {})
    done = {}

    def value(node):
        if isinstance(node, dict) and "Ref" in node:
            return parameters[node["Ref"]]
        return node

    def truth(node):
        (fn, arg), = node.items()
        if fn == "Fn::Equals":
            return value(arg[0]) == value(arg[1])
        if fn == "Fn::Not":
            return not truth(arg[0])
        if fn == "Fn::And":
            return all(truth(a) for a in arg)
        if fn == "Fn::Or":
            return any(truth(a) for a in arg)
        if fn == "Condition":
            return condition(arg)
        raise ValueError(f"unsupported condition function {fn}")

    def condition(name):
        if name not in done:
            done[name] = truth(declared[name])
        return done[name]

    return {name: condition(name) for name in declared}


def resolve(node, physical, conditions, parameters=None):
    """Ref / Fn::If / Fn::Sub / AWS::NoValue of a function's environment, against the deployed
    stack (resources by physical id, parameters, pseudo parameters)."""
    parameters = parameters or {}

    def ref(name):
        if name in physical:
            return physical[name]
        if name in parameters:
            return parameters[name]
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        raise KeyError(f"cannot resolve {name}")

    if isinstance(node, dict):
        if "Ref" in node:
            return ref(node["Ref"])
        if "Fn::If" in node:
            name, yes, no = node["Fn::If"]
            return resolve(yes if conditions[name] else no, physical, conditions, parameters)
        if "Fn::Sub" in node and isinstance(node["Fn::Sub"], str):
            text, out = node["Fn::Sub"], ""
            while "${" in text:
                before, rest = text.split("${", 1)
                name, text = rest.split("}", 1)
                out += before + ref(name)
            return out + text
        return {
            k: v
            for k, v in ((k, resolve(v, physical, conditions, parameters)) for k, v in node.items())
            if v is not None
        }
    return node


def deploy_emulator(endpoint, stack_name, region, given=None):
    import boto3
    from botocore.config import Config

    template = transform()
    subset = emulated_subset(template)
    parameters = parameter_values(template, given or {})
    pseudo = dict(PSEUDO_PARAMETERS, **{"AWS::Region": region, "AWS::StackName": stack_name})
    parameters.update(pseudo)
    conditions = evaluate_conditions(template, parameters)
    # Resources of false conditions are left out here (moto lists them half-described).
    subset["Resources"] = {
        k: v for k, v in subset["Resources"].items() if conditions.get(v.get("Condition"), True)
    }
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=region)
    cfn = session.client("cloudformation", endpoint_url=endpoint)
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(subset),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (given or {}).items()],
    )
    for _ in range(600):
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        if not stack["StackStatus"].endswith("IN_PROGRESS"):
            break
        time.sleep(0.1)
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise RuntimeError(f"stack {stack_name}: {stack['StackStatus']} {stack.get('StackStatusReason', '')}")
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=stack_name)["StackResources"]
    }
    # What moto's CloudFormation leaves out: bucket versioning.
    s3 = session.client("s3", endpoint_url=endpoint, config=Config(s3={"addressing_style": "path"}))
    for logical, resource in subset["Resources"].items():
        versioning = resource["Properties"].get("VersioningConfiguration", {}).get("Status")
        if resource["Type"] == "AWS::S3::Bucket" and logical in physical and versioning:
            s3.put_bucket_versioning(Bucket=physical[logical], VersioningConfiguration={"Status": versioning})
    physical["AWS::NoValue"] = None
    environment = {}
    for logical, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Lambda::Function":
            variables = resource["Properties"].get("Environment", {}).get("Variables", {})
            environment[logical] = resolve(variables, physical, conditions, parameters)
    ttl = {
        k: v["Properties"]["TimeToLiveSpecification"]["AttributeName"]
        for k, v in template["Resources"].items()
        if v["Type"] == "AWS::DynamoDB::Table" and v["Properties"].get("TimeToLiveSpecification", {}).get("Enabled")
    }
    return {
        "stack": stack_name,
        "resources": {
            k: {"type": v["Type"], "physical_id": physical[k]} for k, v in subset["Resources"].items() if k in physical
        },
        "outputs": {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        "environment": environment,
        "ttl_attributes": ttl,
    }


def parse_parameter(text):
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not Key=Value")
    return key, value


def stack_output(stack_name, key, region):
    import boto3

    session = boto3.session.Session(region_name=region)
    stack = session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    if key not in outputs:
        raise KeyError(f"stack {stack_name} has no output {key} (it has: {', '.join(sorted(outputs))})")
    return outputs[key]


def model_artifact(model, out):
    import io
    import tarfile

    import numpy as np
    import xgboost as xgb

    booster = xgb.Booster(model_file=str(model))
    named = xgb.Booster(model_file=str(model))
    # The endpoint gets headerless text/csv rows in the model's feature order (what the Rust
    # scorer sends): drop the names, or the container's DMatrix fails feature validation.
    booster.feature_names = None
    booster.feature_types = None
    # UBJSON, XGBoost's own format since 2.x: what the container's load_model reads without
    # relying on a file extension.
    raw = booster.save_raw(raw_format="ubj")
    reloaded = xgb.Booster()
    reloaded.load_model(bytearray(raw))
    rows = np.random.default_rng(7).normal(size=(256, booster.num_features())).astype(np.float32)
    rows[rows > 1.5] = np.nan
    expected = named.predict(xgb.DMatrix(rows, feature_names=named.feature_names))
    if not np.array_equal(expected, reloaded.predict(xgb.DMatrix(rows))):
        raise RuntimeError("the saved artifact predicts differently from the JSON model")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w:gz") as tar:
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(bytes(raw)))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("openapi", help="write build/openapi-apigw.yaml")
    p = commands.add_parser("transform", help="print the template after the SAM transform (JSON)")
    p.add_argument("--out", type=Path, help="write to this file instead of stdout")
    p = commands.add_parser("deploy-emulator", help="deploy the emulated subset into moto, print JSON")
    p.add_argument("--endpoint", required=True, help="moto's URL, e.g. http://127.0.0.1:5000")
    p.add_argument("--stack", default="roamguard")
    p.add_argument("--region", default="us-east-1")
    p.add_argument(
        "--parameter", action="append", type=parse_parameter, default=[], metavar="KEY=VALUE",
        help="a template parameter (repeatable); the others keep their defaults",
    )
    p = commands.add_parser("output", help="print one output of a deployed stack")
    p.add_argument("--stack", default="roamguard")
    p.add_argument("--key", required=True, help="e.g. ProfilesTableName")
    p.add_argument("--region", help="default: the AWS CLI/SDK default region")
    p = commands.add_parser("model-artifact", help="write model.tar.gz for SageMaker's XGBoost container")
    p.add_argument("--model", type=Path, default=INFRA.parent / "models" / "model.json")
    p.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    if args.command == "openapi":
        print(write_openapi())
    elif args.command == "transform":
        text = json.dumps(transform(), indent=2)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text, encoding="utf-8")
        else:
            print(text)
    elif args.command == "deploy-emulator":
        given = dict(args.parameter)
        print(json.dumps(deploy_emulator(args.endpoint, args.stack, args.region, given), indent=2))
    elif args.command == "output":
        print(stack_output(args.stack, args.key, args.region))
    else:
        print(model_artifact(args.model, args.out))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # one line that says what failed, for the Makefile and tests
        print(f"stack.py: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
