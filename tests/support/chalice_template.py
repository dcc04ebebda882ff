"""What `chalice package --merge-template template.yaml` writes to sam.yaml, in under a second
and without a zip: Chalice's own resource graph, build steps (but the one that zips the code)
and SAM generator on app.py and .chalice/config.json, then its own YAML loader and deep merger
with template.yaml. The unit tests check the operations and IAM parts of the template on it;
tests/package checks the real build/sam.yaml with the same checks."""
from __future__ import annotations

import copy
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "./deployment.zip"


def packaged_template(stage: str = "dev") -> dict:
    """A fresh copy each call (tests break their copy)."""
    return copy.deepcopy(_packaged(stage, (ROOT / "template.yaml").stat().st_mtime_ns,
                                   (ROOT / ".chalice" / "config.json").stat().st_mtime_ns))


@functools.lru_cache(maxsize=2)
def _packaged(stage: str, *_versions: int) -> dict:
    import botocore.session
    from chalice import package
    from chalice.awsclient import TypedAWSClient
    from chalice.cli.factory import CLIFactory
    from chalice.deploy import deployer
    from chalice.utils import UI, OSUtils

    class NamesThePackage(deployer.BaseDeployStep):
        """In place of the step that builds deployment.zip: only its name."""

        def handle_deploymentpackage(self, config, resource):
            resource.filename = PACKAGE

    # Chalice sets the stage's environment variables while it imports app.py: on a copy, not ours.
    factory = CLIFactory(project_dir=str(ROOT), environ={})
    config = factory.create_config_obj(chalice_stage_name=stage)
    build = deployer.create_build_stage(OSUtils(), UI(), package.CFNSwaggerGenerator(), config)
    build._steps = [NamesThePackage() if isinstance(step, deployer.DeploymentPackager) else step
                    for step in build._steps]
    resources = package.ResourceBuilder(deployer.ApplicationGraphBuilder(), deployer.DependencyBuilder(),
                                        build).construct_resources(config, stage)
    session = botocore.session.get_session()
    session.set_config_variable("region", "us-east-1")
    chalice_template = package.SAMTemplateGenerator(config, package.PackageOptions(
        TypedAWSClient(session))).generate(resources)
    merge = package.YAMLTemplateSerializer().load_template((ROOT / "template.yaml").read_text())
    return package.TemplateDeepMerger().merge(merge, chalice_template)
