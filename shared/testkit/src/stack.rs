//! The stack's emulated resources (streams, tables, queues, buckets, key) deployed into moto from
//! infra/template.yaml after the SAM transform, by `infra/stack.py deploy-emulator`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct DeployedStack {
    /// Stack outputs by key.
    pub outputs: HashMap<String, String>,
    /// Each function's environment (by logical id) with references resolved to the deployed
    /// resources, as Lambda would set it with the template's default parameters.
    pub environment: HashMap<String, HashMap<String, String>>,
    /// TTL attribute by table logical id, from the template.
    pub ttl_attributes: HashMap<String, String>,
}

impl DeployedStack {
    pub fn env_of(&self, function: &str) -> Vec<(String, String)> {
        let vars = self.environment.get(function).unwrap_or_else(|| panic!("no function {function} in the template"));
        vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    pub fn output(&self, key: &str) -> &str {
        self.outputs.get(key).unwrap_or_else(|| panic!("no stack output {key}: {:?}", self.outputs))
    }
}

/// The workspace root: the nearest ancestor of this package holding infra/stack.py.
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .find(|dir| dir.join("infra/stack.py").is_file())
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("infra/stack.py not found above {}", manifest.display()))
}

/// Python with aws-sam-translator and boto3: the project's `.venv` (which `make test`
/// installs), else `python3` on the PATH.
fn python() -> PathBuf {
    let venv = workspace_root().join(".venv/bin/python");
    if venv.is_file() { venv } else { PathBuf::from("python3") }
}

/// Deploys with the template's default parameters.
pub fn deploy(endpoint: &str, stack: &str) -> DeployedStack {
    deploy_with(endpoint, stack, &[])
}

/// Deploys with `parameters` (name, value) on top of the template's defaults: the functions'
/// environment and the resources created follow the template's conditions on them.
pub fn deploy_with(endpoint: &str, stack: &str, parameters: &[(&str, &str)]) -> DeployedStack {
    let root = workspace_root();
    let mut command = Command::new(python());
    command.arg(root.join("infra/stack.py")).args(["deploy-emulator", "--endpoint", endpoint, "--stack", stack]);
    for (name, value) in parameters {
        command.arg("--parameter").arg(format!("{name}={value}"));
    }
    let output =
        command.output().unwrap_or_else(|e| panic!("run infra/stack.py: {e} (run `make test`, which installs .venv)"));
    assert!(
        output.status.success(),
        "infra/stack.py deploy-emulator failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("stack.py prints the deployed stack as JSON")
}
