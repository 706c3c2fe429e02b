"""infra/template.yaml after the SAM transform, checked for what the linters cannot know: the
API Gateway form of the OpenAPI file is valid OpenAPI 3.0 with every operation integrated, the
roles are least-privilege, and the stream mapping keeps the no-loss settings. (The template's
names, keys and indexes are checked against the code by deploying it into moto: the Rust tests
functions/*/tests/deployed_stack.rs.)"""

import copy
import json
import os
import sys
import unittest

from openapi_spec_validator import validate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "infra"))

import stack  # noqa: E402  (infra/stack.py)

PARAMETER_DEFAULTS_WITH_ENDPOINT = {"DeploySageMakerEndpoint": "true", "ModelArtifactBucket": "models"}


def without_intrinsics(node):
    """The document as API Gateway sees it once CloudFormation resolved the intrinsics."""
    if isinstance(node, dict):
        if "Fn::If" in node:
            return without_intrinsics(node["Fn::If"][1])
        if "Fn::Sub" in node:
            return "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn/invocations"
        return {k: without_intrinsics(v) for k, v in node.items()}
    if isinstance(node, list):
        return [without_intrinsics(v) for v in node]
    return node


class ApiGatewayOpenApiTest(unittest.TestCase):
    def test_when_converted_for_api_gateway_should_be_valid_openapi_30_with_every_operation(self):
        source = stack.load_yaml(stack.OPENAPI)
        converted = stack.apigw_openapi()
        self.assertEqual(converted["openapi"], "3.0.1")
        validate(without_intrinsics(converted))
        methods = lambda spec: {(p, m) for p, item in spec["paths"].items() for m in item if m != "parameters"}
        self.assertEqual(methods(converted), methods(source))
        self.assertEqual(converted["security"], {"Fn::If": ["ApiUsesIam", [{"sigv4": []}], []]})

    def test_when_a_type_is_nullable_should_become_nullable_in_30_and_reject_unions(self):
        self.assertEqual(
            stack.to_openapi_30({"properties": {"x": {"type": ["number", "null"]}}}),
            {"properties": {"x": {"type": "number", "nullable": True}}},
        )
        with self.assertRaises(ValueError):
            stack.to_openapi_30({"type": ["string", "number"]})

    def test_when_a_schema_uses_2020_12_keywords_should_rewrite_or_drop_them(self):
        schema = {
            "allOf": [{"if": {"required": ["a"]}, "then": {"required": ["b"]}}],
            "properties": {"kind": {"const": "data"}},
            "examples": [{"a": 1}, {"a": 2}],
        }
        self.assertEqual(
            stack.to_openapi_30(schema), {"properties": {"kind": {"enum": ["data"]}}, "example": {"a": 1}}
        )


class TransformedTemplateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.template = stack.transform()
        cls.resources = cls.template["Resources"]

    def of_type(self, kind):
        return {k: v for k, v in self.resources.items() if v["Type"] == kind}

    def test_when_transformed_should_give_each_function_a_role_of_its_own_without_wildcards(self):
        functions = self.of_type("AWS::Lambda::Function")
        self.assertEqual(set(functions), {"ScoreStreamFunction", "ScoreApiFunction", "ScoreKafkaFunction"})
        roles = {f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()}
        self.assertEqual(len(roles), 3)
        for name, role in self.of_type("AWS::IAM::Role").items():
            self.assertNotIn("ManagedPolicyArns", role["Properties"], name)
            for policy in role["Properties"]["Policies"]:
                for statement in policy["PolicyDocument"]["Statement"]:
                    if "Fn::If" in statement:
                        statement = statement["Fn::If"][1]
                    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                    for action in actions:
                        self.assertNotIn("*", action, f"{name}: {action}")
                    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                    if statement.get("Sid") == "KafkaPollerNetwork":
                        # The Kafka pollers' network interfaces: EC2 takes no resource ARNs for
                        # these actions, and nothing else is allowed on "*".
                        self.assertEqual((name, statement["Resource"]), ("ScoreKafkaRole", "*"))
                        self.assertTrue(all(a.startswith("ec2:") and "NetworkInterface" in a or a.startswith("ec2:Describe") for a in actions), actions)
                        continue
                    self.assertNotIn("*", resources, f"{name}: {statement}")

    def test_when_transformed_should_map_the_stream_with_partial_failures_bisect_and_a_failure_destination(self):
        mappings = self.of_type("AWS::Lambda::EventSourceMapping")
        (mapping,) = [m for m in mappings.values() if "Condition" not in m]
        p = mapping["Properties"]
        self.assertEqual(p["FunctionResponseTypes"], ["ReportBatchItemFailures"])
        self.assertEqual(self.template["Parameters"]["StreamBisectBatchOnError"]["Default"], "true")
        self.assertEqual(p["DestinationConfig"]["OnFailure"]["Destination"], {"Fn::GetAtt": ["BatchFailureQueue", "Arn"]})
        self.assertEqual(p["EventSourceArn"], {"Fn::GetAtt": ["InputStream", "Arn"]})
        for setting in ["BatchSize", "MaximumBatchingWindowInSeconds", "ParallelizationFactor",
                        "BisectBatchOnFunctionError", "MaximumRetryAttempts", "MaximumRecordAgeInSeconds"]:
            self.assertIn("Ref", p[setting], f"{setting} is a parameter")

    def test_when_transformed_should_encrypt_every_store_with_the_stack_key_and_retain_the_tables(self):
        key = {"Fn::GetAtt": ["DataKey", "Arn"]}
        for name, table in self.of_type("AWS::DynamoDB::Table").items():
            self.assertEqual(table["DeletionPolicy"], "Retain", name)
            self.assertEqual(table["Properties"]["SSESpecification"]["KMSMasterKeyId"], key, name)
            self.assertTrue(table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"])
            self.assertEqual(table["Properties"]["BillingMode"], "PAY_PER_REQUEST")
        for name, s in self.of_type("AWS::Kinesis::Stream").items():
            self.assertEqual(s["Properties"]["StreamEncryption"], {"EncryptionType": "KMS", "KeyId": key}, name)
        for name, q in self.of_type("AWS::SQS::Queue").items():
            self.assertEqual(q["Properties"]["KmsMasterKeyId"], {"Ref": "DataKey"}, name)
        for name, group in self.of_type("AWS::Logs::LogGroup").items():
            self.assertEqual(group["Properties"]["KmsKeyId"], key, name)

    def test_when_the_endpoint_is_off_should_score_in_process_and_when_on_use_it(self):
        env = self.resources["ScoreStreamFunction"]["Properties"]["Environment"]["Variables"]
        self.assertEqual(env["SCORER"], {"Fn::If": ["DeploySageMaker", "sagemaker", "embedded"]})
        self.assertEqual(env["SAGEMAKER_ENDPOINT"]["Fn::If"][0], "DeploySageMaker")
        for name in ["ScoringModel", "ScoringEndpointConfig", "ScoringEndpoint", "DataCaptureBucket"]:
            self.assertEqual(self.resources[name]["Condition"], "DeploySageMaker", name)
        capture = self.resources["ScoringEndpointConfig"]["Properties"]["DataCaptureConfig"]
        self.assertTrue(capture["EnableCapture"])

    def test_when_emulated_should_keep_only_what_moto_creates_and_its_outputs(self):
        subset = stack.emulated_subset(copy.deepcopy(self.template))
        self.assertEqual(
            {v["Type"] for v in subset["Resources"].values()},
            {"AWS::KMS::Key", "AWS::Kinesis::Stream", "AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::S3::Bucket"},
        )
        self.assertIn("VerdictsTableName", subset["Outputs"])
        self.assertIn("ConfigBucketName", subset["Outputs"])
        self.assertNotIn("ApiUrl", subset["Outputs"])

    # ---- the decision policy: config bucket, thresholds file, shadow mode ----

    def statements(self, role):
        """The role's statements, each with the condition it depends on (None: unconditional)."""
        found = []
        for policy in self.resources[role]["Properties"]["Policies"]:
            for statement in policy["PolicyDocument"]["Statement"]:
                if "Fn::If" in statement:
                    condition, yes, no = statement["Fn::If"]
                    self.assertEqual(no, {"Ref": "AWS::NoValue"})
                    found.append((condition, yes))
                else:
                    found.append((None, statement))
        return found

    def test_when_transformed_should_let_only_the_api_update_verdicts_for_labels(self):
        def verdict_actions(role):
            (statement,) = [st for _, st in self.statements(role) if st.get("Sid") == "Verdicts"]
            return set(statement["Action"])

        self.assertIn("dynamodb:UpdateItem", verdict_actions("ScoreApiRole"))
        self.assertNotIn("dynamodb:UpdateItem", verdict_actions("ScoreStreamRole"), "the stream never labels")

    def test_when_transformed_should_keep_the_config_bucket_private_versioned_encrypted_and_tls_only(self):
        self.assert_private_versioned_encrypted_tls_only("ConfigBucket")

    def assert_private_versioned_encrypted_tls_only(self, name, scratch_prefixes=()):
        bucket = self.resources[name]
        self.assertNotIn("Condition", bucket, "created with every stack: a file can be uploaded before it is named")
        self.assertEqual(bucket["DeletionPolicy"], "Retain")
        p = bucket["Properties"]
        self.assertEqual(p["VersioningConfiguration"], {"Status": "Enabled"})
        (rule,) = p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        self.assertEqual(
            rule["ServerSideEncryptionByDefault"],
            {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": ["DataKey", "Arn"]}},
        )
        self.assertEqual(set(p["PublicAccessBlockConfiguration"].values()), {True})
        self.assertEqual(len(p["PublicAccessBlockConfiguration"]), 4)
        for lifecycle in p.get("LifecycleConfiguration", {}).get("Rules", []):
            if lifecycle.get("Prefix") in scratch_prefixes:
                continue
            self.assertNotIn("NoncurrentVersionExpiration", lifecycle, "a pinned version must stay readable")
            self.assertNotIn("ExpirationInDays", lifecycle)
        policy = self.resources[f"{name}Policy"]["Properties"]
        self.assertEqual(policy["Bucket"], {"Ref": name})
        (tls,) = policy["PolicyDocument"]["Statement"]
        self.assertEqual((tls["Effect"], tls["Principal"], tls["Action"]), ("Deny", "*", "s3:*"))
        self.assertEqual(tls["Condition"], {"Bool": {"aws:SecureTransport": "false"}})
        self.assertIn({"Fn::Sub": f"${{{name}.Arn}}/*"}, tls["Resource"])
        self.assertIn({"Fn::GetAtt": [name, "Arn"]}, tls["Resource"])
        skipped = {skip["id"]: skip["comment"] for skip in bucket["Metadata"]["checkov"]["skip"]}
        self.assertEqual(set(skipped), {"CKV_AWS_18", "CKV_AWS_144", "CKV2_AWS_62"}, name)
        self.assertTrue(all(len(reason) > 40 for reason in skipped.values()), f"{name}: each skip says why")

    # ---- model versions: the model bucket, ModelPrefix, MODEL_URI ----

    def test_when_transformed_should_keep_the_model_bucket_private_versioned_encrypted_and_tls_only(self):
        self.assert_private_versioned_encrypted_tls_only("ModelBucket")
        self.assertIn("ModelBucketName", stack.emulated_subset(copy.deepcopy(self.template))["Outputs"])

    def test_when_a_model_prefix_is_set_should_let_each_function_read_only_under_it(self):
        under = {"Fn::Sub": "arn:${AWS::Partition}:s3:::${ModelBucket}/${ModelPrefix}*"}
        for role in ["ScoreStreamRole", "ScoreApiRole"]:
            statements = self.statements(role)
            on_models = sorted(((c, st) for c, st in statements if "ModelBucket" in json.dumps(st)), key=lambda x: x[0])
            expected = [("HasChallenger", "ReadChallengerModel", "ChallengerModelPrefix"), ("HasModel", "ReadModel", "ModelPrefix")]
            self.assertEqual([(c, st["Sid"]) for c, st in on_models], [(c, sid) for c, sid, _ in expected], role)
            for (condition, statement), (_, _, prefix) in zip(on_models, expected):
                self.assertEqual(statement["Effect"], "Allow", role)
                self.assertEqual(sorted(statement["Action"]), ["s3:GetObject", "s3:GetObjectVersion"], f"{role}: read-only")
                resource = {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::${{ModelBucket}}/${{{prefix}}}*"}
                self.assertEqual(statement["Resource"], resource, role)
            self.assertEqual(on_models[1][1]["Resource"], under, role)
        conditions = self.template["Conditions"]
        self.assertEqual(conditions["HasModel"], {"Fn::Not": [{"Fn::Equals": [{"Ref": "ModelPrefix"}, ""]}]})
        defaults = stack.parameter_values(self.template, {})
        self.assertEqual(defaults["ModelPrefix"], "", "the built-in model unless asked for")
        self.assertFalse(stack.evaluate_conditions(self.template, defaults)["HasModel"])
        chosen = stack.parameter_values(self.template, {"ModelPrefix": "models/v2/"})
        self.assertTrue(stack.evaluate_conditions(self.template, chosen)["HasModel"])

    def test_when_a_model_prefix_is_chosen_should_be_a_directory_without_wildcards(self):
        import re

        pattern = re.compile(self.template["Parameters"]["ModelPrefix"]["AllowedPattern"])
        for prefix in ["", "v2/", "models/2026-12-01/"]:
            self.assertTrue(pattern.fullmatch(prefix), prefix)
        for prefix in ["models/v1", "models/*", "/", "models//", "a b/", "${x}/"]:
            self.assertFalse(pattern.fullmatch(prefix), prefix)

    def test_when_transformed_should_give_both_functions_the_model_uri_only_with_a_prefix(self):
        for function in ["ScoreStreamFunction", "ScoreApiFunction"]:
            env = self.resources[function]["Properties"]["Environment"]["Variables"]
            self.assertEqual(
                env["MODEL_URI"],
                {"Fn::If": ["HasModel", {"Fn::Sub": "s3://${ModelBucket}/${ModelPrefix}"}, {"Ref": "AWS::NoValue"}]},
                function,
            )
            physical = {name: name.lower() for name in self.resources}
            physical["AWS::NoValue"] = None
            parameters = stack.parameter_values(self.template, {"ModelPrefix": "models/v2/"})
            resolved = stack.resolve(env, physical, stack.evaluate_conditions(self.template, parameters), parameters)
            self.assertEqual(resolved["MODEL_URI"], "s3://modelbucket/models/v2/")
            defaults = stack.parameter_values(self.template, {})
            unset = stack.resolve(env, physical, stack.evaluate_conditions(self.template, defaults), defaults)
            self.assertNotIn("MODEL_URI", unset)
            self.assertNotIn("CHALLENGER_MODEL_URI", unset)
            parameters = stack.parameter_values(self.template, {"ChallengerModelPrefix": "models/next/"})
            resolved = stack.resolve(env, physical, stack.evaluate_conditions(self.template, parameters), parameters)
            self.assertEqual(resolved["CHALLENGER_MODEL_URI"], "s3://modelbucket/models/next/")

    def test_when_a_thresholds_key_is_set_should_let_each_function_read_exactly_that_object(self):
        exact = {"Fn::Sub": "arn:${AWS::Partition}:s3:::${ConfigBucket}/${ThresholdsKey}"}
        for role in ["ScoreStreamRole", "ScoreApiRole"]:
            statements = self.statements(role)
            s3 = [(c, st) for c, st in statements if any(str(a).startswith("s3:") for a in st["Action"])]
            self.assertEqual(
                sorted(c for c, _ in s3), ["HasChallenger", "HasModel", "HasRulesFile", "HasRulesFile", "HasThresholdsFile"],
                f"{role}: S3 only when a file is configured",
            )
            ((condition, statement),) = [(c, st) for c, st in s3 if c == "HasThresholdsFile"]
            self.assertEqual(condition, "HasThresholdsFile", role)
            self.assertEqual(statement["Effect"], "Allow")
            self.assertEqual(sorted(statement["Action"]), ["s3:GetObject", "s3:GetObjectVersion"], role)
            self.assertEqual(statement["Resource"], exact, role)
            decrypt = [st for c, st in statements if c is None and "kms:Decrypt" in st["Action"]]
            self.assertEqual([st["Resource"] for st in decrypt], [{"Fn::GetAtt": ["DataKey", "Arn"]}], role)
        conditions = self.template["Conditions"]
        self.assertEqual(conditions["HasThresholdsFile"], {"Fn::Not": [{"Fn::Equals": [{"Ref": "ThresholdsKey"}, ""]}]})
        defaults = stack.parameter_values(self.template, {})
        self.assertFalse(stack.evaluate_conditions(self.template, defaults)["HasThresholdsFile"])
        chosen = stack.parameter_values(self.template, {"ThresholdsKey": "t.json"})
        self.assertTrue(stack.evaluate_conditions(self.template, chosen)["HasThresholdsFile"])

    def test_when_a_thresholds_key_is_chosen_should_refuse_wildcards_and_a_version_without_a_key(self):
        import re

        pattern = re.compile(self.template["Parameters"]["ThresholdsKey"]["AllowedPattern"])
        for key in ["", "thresholds.json", "decisions/2026-12/thresholds.json"]:
            self.assertTrue(pattern.fullmatch(key), key)
        for key in ["*", "decisions/*", "a?b", "a b", "${x}"]:
            self.assertFalse(pattern.fullmatch(key), key)
        rule = self.template["Rules"]["ThresholdsVersionNeedsAKey"]
        self.assertEqual(rule["RuleCondition"], {"Fn::Not": [{"Fn::Equals": [{"Ref": "ThresholdsVersion"}, ""]}]})
        self.assertEqual(rule["Assertions"][0]["Assert"], {"Fn::Not": [{"Fn::Equals": [{"Ref": "ThresholdsKey"}, ""]}]})

    def test_when_transformed_should_give_both_functions_the_decision_mode_and_the_thresholds_file(self):
        mode = self.template["Parameters"]["DecisionMode"]
        self.assertEqual((mode["Default"], mode["AllowedValues"]), ("enforce", ["enforce", "shadow"]))
        self.assertEqual(self.template["Parameters"]["ThresholdsKey"]["Default"], "")
        self.assertEqual(self.template["Parameters"]["ThresholdsVersion"]["Default"], "")
        for function in ["ScoreStreamFunction", "ScoreApiFunction"]:
            env = self.resources[function]["Properties"]["Environment"]["Variables"]
            self.assertEqual(env["DECISION_MODE"], {"Ref": "DecisionMode"}, function)
            self.assertEqual(
                env["THRESHOLDS_URI"],
                {"Fn::If": ["HasThresholdsFile", {"Fn::Sub": "s3://${ConfigBucket}/${ThresholdsKey}"}, {"Ref": "AWS::NoValue"}]},
                function,
            )
            self.assertEqual(
                env["THRESHOLDS_VERSION"],
                {"Fn::If": ["HasThresholdsVersion", {"Ref": "ThresholdsVersion"}, {"Ref": "AWS::NoValue"}]},
                function,
            )
            # As the emulator deployment resolves it for a pinned file.
            parameters = stack.parameter_values(
                self.template, {"ThresholdsKey": "d/t.json", "ThresholdsVersion": "v7", "DecisionMode": "shadow"}
            )
            conditions = stack.evaluate_conditions(self.template, parameters)
            physical = {name: name.lower() for name in self.resources}
            physical["AWS::NoValue"] = None
            resolved = stack.resolve(env, physical, conditions, parameters)
            self.assertEqual(
                (resolved["THRESHOLDS_URI"], resolved["THRESHOLDS_VERSION"], resolved["DECISION_MODE"]),
                ("s3://configbucket/d/t.json", "v7", "shadow"),
            )
            defaults = stack.parameter_values(self.template, {})
            unset = stack.resolve(env, physical, stack.evaluate_conditions(self.template, defaults), defaults)
            self.assertEqual(unset["DECISION_MODE"], "enforce")
            self.assertNotIn("THRESHOLDS_URI", unset)
            self.assertNotIn("THRESHOLDS_VERSION", unset)

    def test_when_a_thresholds_file_is_named_should_alarm_when_the_functions_refuse_it(self):
        alarm = self.resources["ThresholdsRejectedAlarm"]
        self.assertEqual(alarm["Condition"], "HasThresholdsFile")
        metrics = [m["MetricStat"]["Metric"] for m in alarm["Properties"]["Metrics"] if "MetricStat" in m]
        self.assertEqual({m["MetricName"] for m in metrics}, {"ThresholdsRejected"})
        self.assertEqual({m["Namespace"] for m in metrics}, {"RoamGuard"})
        functions = {m["Dimensions"][0]["Value"]["Ref"] for m in metrics}
        self.assertEqual(functions, {"ScoreStreamFunction", "ScoreApiFunction"})
        self.assertEqual(alarm["Properties"]["AlarmActions"], [{"Ref": "AlarmTopic"}])

    # ---- the analysts' rules: RulesKey, its directory, reload metric and alarm ----

    def test_when_a_rules_key_is_set_should_let_each_function_read_its_directory_and_list_its_versions_only(self):
        directory = {
            "Fn::Sub": [
                "arn:${AWS::Partition}:s3:::${ConfigBucket}/${RulesDirectory}/*",
                {"RulesDirectory": {"Fn::Select": [0, {"Fn::Split": ["/", {"Ref": "RulesKey"}]}]}},
            ]
        }
        for role in ["ScoreStreamRole", "ScoreApiRole"]:
            rules = {st["Sid"]: st for c, st in self.statements(role) if c == "HasRulesFile"}
            self.assertEqual(set(rules), {"ReadRulesAndLists", "ListRulesFileVersions"}, role)
            read = rules["ReadRulesAndLists"]
            self.assertEqual((read["Effect"], sorted(read["Action"])), ("Allow", ["s3:GetObject", "s3:GetObjectVersion"]))
            self.assertEqual(read["Resource"], directory, role)
            self.assertNotIn("Condition", read)
            listing = rules["ListRulesFileVersions"]
            self.assertEqual(listing["Action"], ["s3:ListBucketVersions"], "not s3:ListBucket: no listing of keys")
            self.assertEqual(listing["Resource"], {"Fn::GetAtt": ["ConfigBucket", "Arn"]})
            self.assertEqual(listing["Condition"], {"StringEquals": {"s3:prefix": {"Ref": "RulesKey"}}}, "its versions only")
        conditions = self.template["Conditions"]
        self.assertEqual(conditions["HasRulesFile"], {"Fn::Not": [{"Fn::Equals": [{"Ref": "RulesKey"}, ""]}]})
        defaults = stack.parameter_values(self.template, {})
        self.assertEqual(defaults["RulesKey"], "", "no rules unless asked for")
        self.assertFalse(stack.evaluate_conditions(self.template, defaults)["HasRulesFile"])
        chosen = stack.parameter_values(self.template, {"RulesKey": "rules/rules.yaml"})
        self.assertTrue(stack.evaluate_conditions(self.template, chosen)["HasRulesFile"])

    def test_when_a_rules_key_is_chosen_should_be_a_file_in_a_directory_without_wildcards(self):
        import re

        pattern = re.compile(self.template["Parameters"]["RulesKey"]["AllowedPattern"])
        for key in ["", "rules/rules.yaml", "fraud-team/rules_v2.yml"]:
            self.assertTrue(pattern.fullmatch(key), key)
        # At the bucket's root the grant would be the whole bucket; deeper, the first segment only.
        for key in ["rules.yaml", "a/b/rules.yaml", "rules/", "/rules.yaml", "rules/*", "rules/*.yaml", "r les/x", "${x}/y"]:
            self.assertFalse(pattern.fullmatch(key), key)

    def test_when_transformed_should_give_both_functions_the_rules_uri_only_with_a_rules_key(self):
        for function in ["ScoreStreamFunction", "ScoreApiFunction"]:
            env = self.resources[function]["Properties"]["Environment"]["Variables"]
            self.assertEqual(
                env["RULES_URI"],
                {"Fn::If": ["HasRulesFile", {"Fn::Sub": "s3://${ConfigBucket}/${RulesKey}"}, {"Ref": "AWS::NoValue"}]},
                function,
            )
            self.assertNotIn("RULES_RELOAD_SECONDS", env, "the functions' default (60 s)")
            physical = {name: name.lower() for name in self.resources}
            physical["AWS::NoValue"] = None
            parameters = stack.parameter_values(self.template, {"RulesKey": "rules/rules.yaml"})
            resolved = stack.resolve(env, physical, stack.evaluate_conditions(self.template, parameters), parameters)
            self.assertEqual(resolved["RULES_URI"], "s3://configbucket/rules/rules.yaml")
            defaults = stack.parameter_values(self.template, {})
            unset = stack.resolve(env, physical, stack.evaluate_conditions(self.template, defaults), defaults)
            self.assertNotIn("RULES_URI", unset)

    def test_when_a_rules_key_is_set_should_alarm_while_the_functions_refuse_the_latest_rules_file(self):
        alarm = self.resources["RulesRejectedAlarm"]
        self.assertEqual(alarm["Condition"], "HasRulesFile")
        p = alarm["Properties"]
        metrics = [m["MetricStat"] for m in p["Metrics"] if "MetricStat" in m]
        self.assertEqual({m["Metric"]["MetricName"] for m in metrics}, {"RulesRejected"})
        self.assertEqual({m["Metric"]["Namespace"] for m in metrics}, {"RoamGuard"})
        self.assertEqual({m["Stat"] for m in metrics}, {"Maximum"})
        functions = {m["Metric"]["Dimensions"][0]["Value"]["Ref"] for m in metrics}
        self.assertEqual(functions, {"ScoreStreamFunction", "ScoreApiFunction"})
        self.assertEqual((p["Threshold"], p["ComparisonOperator"]), (0, "GreaterThanThreshold"))
        self.assertEqual(p["AlarmActions"], [{"Ref": "AlarmTopic"}])
        self.assertEqual(p["OKActions"], [{"Ref": "AlarmTopic"}])

    def test_when_a_top_features_psi_is_major_should_the_drift_alarm_fire(self):
        p = self.resources["DriftAlarm"]["Properties"]
        self.assertEqual((p["Namespace"], p["MetricName"], p["Statistic"]), ("RoamGuard", "MaxFeaturePsi", "Maximum"))
        self.assertEqual(p["Dimensions"], [{"Name": "Function", "Value": {"Ref": "ScoreStreamFunction"}}])
        self.assertEqual((p["Threshold"], p["ComparisonOperator"]), (0.25, "GreaterThanThreshold"))
        self.assertEqual(p["TreatMissingData"], "notBreaching")
        self.assertEqual(p["AlarmActions"], [{"Ref": "AlarmTopic"}])

    def test_when_a_kafka_source_is_chosen_should_map_it_with_provisioned_pollers_and_partial_failures(self):
        mappings = self.of_type("AWS::Lambda::EventSourceMapping")
        msk, own = mappings["ScoreKafkaMskMapping"], mappings["ScoreKafkaSelfManagedMapping"]
        self.assertEqual((msk["Condition"], own["Condition"]), ("KafkaFromMsk", "KafkaSelfManaged"))
        for m in (msk, own):
            p = m["Properties"]
            self.assertEqual(p["FunctionName"], {"Ref": "ScoreKafkaFunction"})
            self.assertEqual(p["FunctionResponseTypes"], ["ReportBatchItemFailures"])
            self.assertEqual(set(p["ProvisionedPollerConfig"]), {"MinimumPollers", "MaximumPollers"}, "partial batch responses need provisioned mode")
            self.assertEqual(p["DestinationConfig"]["OnFailure"]["Destination"], {"Fn::GetAtt": ["BatchFailureQueue", "Arn"]})
            self.assertEqual(p["Topics"], [{"Ref": "KafkaTopic"}])
        self.assertEqual(msk["Properties"]["AmazonManagedKafkaEventSourceConfig"]["ConsumerGroupId"], {"Ref": "KafkaConsumerGroupId"})
        self.assertIn("KafkaBootstrapServers", json.dumps(own["Properties"]["SelfManagedEventSource"]))
        for name in ["ScoreKafkaFunction", "ScoreKafkaRole", "ScoreKafkaLogGroup"]:
            self.assertEqual(self.resources[name]["Condition"], "DeployKafka", name)
        defaults = stack.parameter_values(self.template, {})
        conditions = stack.evaluate_conditions(self.template, defaults)
        self.assertFalse(conditions["DeployKafka"], "no Kafka function unless a source is chosen")
        chosen = stack.parameter_values(self.template, {"KafkaSource": "msk", "KafkaClusterArn": "arn:aws:kafka:us-east-1:123456789012:cluster/c/u"})
        conditions = stack.evaluate_conditions(self.template, chosen)
        self.assertTrue(conditions["KafkaFromMsk"] and conditions["KafkaPollsInVpc"] and not conditions["KafkaSelfManaged"])
        # The same resources and settings as score-stream.
        env = lambda f: self.resources[f]["Properties"]["Environment"]["Variables"]
        self.assertEqual(env("ScoreKafkaFunction"), env("ScoreStreamFunction"))

    def test_when_transformed_should_deliver_the_results_stream_to_the_lake_as_parquet_by_day_and_decision(self):
        # Verdicts never expire there; Athena's query results (scratch) do.
        self.assert_private_versioned_encrypted_tls_only("LakeBucket", scratch_prefixes=("athena-results/",))
        d = self.resources["LakeDelivery"]["Properties"]
        self.assertEqual(d["DeliveryStreamType"], "KinesisStreamAsSource")
        self.assertEqual(d["KinesisStreamSourceConfiguration"]["KinesisStreamARN"], {"Fn::GetAtt": ["ResultsStream", "Arn"]})
        s3 = d["ExtendedS3DestinationConfiguration"]
        self.assertEqual(s3["BucketARN"], {"Fn::GetAtt": ["LakeBucket", "Arn"]})
        self.assertEqual(s3["Prefix"], "verdicts/day=!{partitionKeyFromQuery:day}/verdict_decision=!{partitionKeyFromQuery:decision}/")
        self.assertTrue(s3["ErrorOutputPrefix"].startswith("errors/"), "errors to a prefix of their own")
        self.assertEqual(s3["EncryptionConfiguration"]["KMSEncryptionConfig"]["AWSKMSKeyARN"], {"Fn::GetAtt": ["DataKey", "Arn"]})
        self.assertTrue(s3["DynamicPartitioningConfiguration"]["Enabled"])
        (extract,) = s3["ProcessingConfiguration"]["Processors"]
        query = {p["ParameterName"]: p["ParameterValue"] for p in extract["Parameters"]}["MetadataExtractionQuery"]
        self.assertEqual(query, "{day: .event_time[0:10], decision: .decision}")
        conversion = s3["DataFormatConversionConfiguration"]
        self.assertTrue(conversion["Enabled"])
        self.assertIn("ParquetSerDe", conversion["OutputFormatConfiguration"]["Serializer"])
        self.assertEqual(conversion["SchemaConfiguration"]["TableName"], "verdicts")

    def test_when_transformed_should_describe_every_verdict_field_in_the_glue_table(self):
        with open(os.path.join(ROOT, "schemas", "verdict.v1.schema.json")) as f:
            fields = set(json.load(f)["properties"])
        table = self.resources["VerdictsLakeTable"]["Properties"]["TableInput"]
        columns = {c["Name"] for c in table["StorageDescriptor"]["Columns"]}
        self.assertEqual(columns, fields, "the Parquet columns are Verdict v1's fields")
        self.assertEqual([k["Name"] for k in table["PartitionKeys"]], ["day", "verdict_decision"])
        self.assertEqual(table["Parameters"]["projection.enabled"], "true")
        self.assertEqual(table["Parameters"]["projection.verdict_decision.values"], "ALLOW,REVIEW,BLOCK")
        labels = self.resources["LabelsLakeTable"]["Properties"]["TableInput"]
        with open(os.path.join(ROOT, "schemas", "label.v1.schema.json")) as f:
            self.assertEqual({c["Name"] for c in labels["StorageDescriptor"]["Columns"]}, set(json.load(f)["properties"]))

    def test_when_transformed_should_give_analysts_an_encrypted_limited_workgroup_with_their_queries(self):
        w = self.resources["LakeWorkGroup"]["Properties"]["WorkGroupConfiguration"]
        self.assertTrue(w["EnforceWorkGroupConfiguration"])
        self.assertEqual(w["BytesScannedCutoffPerQuery"], {"Ref": "AthenaBytesScannedCutoff"})
        self.assertEqual(w["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"], "SSE_KMS")
        queries = {q["Properties"]["Name"]: q["Properties"]["QueryString"] for q in self.of_type("AWS::Athena::NamedQuery").values()}
        self.assertEqual(set(queries), {"flagged-by-day", "subscriber-history", "rule-hits", "model-vs-challenger", "agreement-with-labels"})
        self.assertIn("UNNEST(rules_matched)", queries["rule-hits"])
        self.assertIn("JOIN labels", queries["agreement-with-labels"])
        for name, sql in queries.items():
            if name != "agreement-with-labels":
                self.assertIn("day >=", sql, f"{name} scans a bounded range of days")

    def test_when_the_named_queries_are_parsed_should_be_trino_sql_on_the_lake_tables_columns(self):
        import sqlglot
        from sqlglot import exp

        columns = {}
        for name in ["VerdictsLakeTable", "LabelsLakeTable"]:
            table = self.resources[name]["Properties"]["TableInput"]
            keys = table["StorageDescriptor"]["Columns"] + table.get("PartitionKeys", [])
            columns[table["Name"]] = {c["Name"] for c in keys}
        for name, query in self.of_type("AWS::Athena::NamedQuery").items():
            tree = sqlglot.parse_one(query["Properties"]["QueryString"], read="trino")
            tables = {t.name for t in tree.find_all(exp.Table)}
            self.assertTrue(tables <= set(columns), f"{name}: {tables}")
            known = set().union(*(columns[t] for t in tables))
            aliases = {a.alias for a in tree.find_all(exp.Alias)}
            aliases |= {c.name for ta in tree.find_all(exp.TableAlias) for c in ta.columns}
            table_aliases = {ta.name for ta in tree.find_all(exp.TableAlias)}
            unknown = [
                c.sql() for c in tree.find_all(exp.Column)
                if not (c.name in known or c.name in aliases or (c.table not in ("", *table_aliases) and c.table in known))
            ]
            self.assertEqual(unknown, [], f"{name} uses columns the tables do not have")
        with self.assertRaises(sqlglot.errors.ParseError):
            sqlglot.parse_one("SELECT FROM verdicts WHERE", read="trino")

    def test_when_allow_verdicts_expire_should_the_table_have_a_ttl_and_the_functions_the_days(self):
        ttl = self.resources["VerdictsTable"]["Properties"]["TimeToLiveSpecification"]
        self.assertEqual(ttl, {"AttributeName": "expires_at", "Enabled": True})
        physical = {name: name.lower() for name in self.resources}
        physical["AWS::NoValue"] = None
        for function in ["ScoreStreamFunction", "ScoreApiFunction", "ScoreKafkaFunction"]:
            env = self.resources[function]["Properties"]["Environment"]["Variables"]
            defaults = stack.parameter_values(self.template, {})
            unset = stack.resolve(env, physical, stack.evaluate_conditions(self.template, defaults), defaults)
            self.assertNotIn("ALLOW_VERDICT_TTL_DAYS", unset, function)
            chosen = stack.parameter_values(self.template, {"AllowVerdictTtlDays": "14"})
            resolved = stack.resolve(env, physical, stack.evaluate_conditions(self.template, chosen), chosen)
            self.assertEqual(str(resolved["ALLOW_VERDICT_TTL_DAYS"]), "14", function)

    def test_when_deploying_into_the_emulator_should_refuse_an_unknown_parameter(self):
        with self.assertRaises(ValueError):
            stack.parameter_values(self.template, {"ThresholdKey": "t.json"})


class ReferencesTest(unittest.TestCase):
    def test_when_a_fragment_refers_to_resources_should_find_them_all_but_pseudo_parameters(self):
        fragment = {
            "A": {"Ref": "Table"},
            "B": {"Fn::GetAtt": ["Queue", "Arn"]},
            "C": {"Fn::Sub": "arn:${AWS::Partition}:x:${Stream.Arn}/${Local}"},
            "D": {"Fn::Sub": ["${Local}", {"Local": {"Ref": "Key"}}]},
            "E": {"Ref": "AWS::NoValue"},
        }
        self.assertEqual(stack.references(fragment), {"Table", "Queue", "Stream", "Local", "Key"})


if __name__ == "__main__":
    unittest.main()
