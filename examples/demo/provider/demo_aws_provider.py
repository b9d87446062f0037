"""A Terraform provider for the demo and the tests: the two resource types of the AWS
provider whose capacity `park` changes, `aws_ecs_service` and `aws_appautoscaling_target`,
and the one a pin bump rolls forward, `aws_ecs_task_definition`, implemented with boto3
against the local emulator.

Why it exists: the real AWS provider is a download from Terraform's registry, which this
project's machines cannot reach, and without it no Terraform plan here would touch an ECS
service, so the park guard of `tf-wrap` could only be shown on a recorded plan. With this
provider, `terraform plan` refreshes the services from the emulator and plans the change back
to the configured capacity after `park down`, exactly the plan the guard exists to stop.

It speaks Terraform's plugin protocol 6 through the `tf` package (PyPI), is installed into a
root's `terraform.d/plugins` by `harness demo-provider DIR` (see test-support), and is used as
`toolkit.local/demo/aws`. The attribute names are the AWS provider's, so the plan JSON is the
shape tf-wrap reads in production. Scope, on purpose:
  - `aws_ecs_service` (name, cluster, desired_count) adopts an existing service on create;
    it cannot create one (that needs task definitions, networking, ...). Delete deletes it.
  - `aws_appautoscaling_target` registers, reads, updates and deregisters for real.
  - `aws_ecs_task_definition` (family, container_definitions as JSON, like the AWS
    provider's) registers a revision on create and on every change of its containers (the
    plan shows `arn` and `revision` known after apply), deregisters the replaced revision,
    and deregisters on delete. Read finds the revision gone once it is INACTIVE.
  - It refuses to run against anything but an endpoint on 127.0.0.1 or localhost.
"""

import os
import sys
from urllib.parse import urlparse

from tf import schema, types
from tf import provider as p

LOCAL_HOSTS = ("127.0.0.1", "localhost")


def _endpoint():
    url = os.environ.get("AWS_ENDPOINT_URL", "")
    host = urlparse(url).hostname
    return url if host in LOCAL_HOSTS else None


class DemoAws(p.Provider):
    def __init__(self):
        self.clients = {}
        self.region = None

    def full_name(self):
        return "toolkit.local/demo/aws"

    def get_model_prefix(self):
        return "aws_"

    def get_provider_schema(self, diags):
        return schema.Schema(attributes=[schema.Attribute("region", types.String(), optional=True)])

    def validate_config(self, diags, config):
        pass

    def configure_provider(self, diags, config):
        if _endpoint() is None:
            diags.add_error(
                "demo AWS provider: AWS_ENDPOINT_URL must point at an emulator on 127.0.0.1 or localhost",
                f"AWS_ENDPOINT_URL is {os.environ.get('AWS_ENDPOINT_URL')!r}; this provider never talks to AWS.",
            )
            return
        self.region = config.get("region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if not self.region:
            diags.add_error("demo AWS provider: no region (set `region` or AWS_REGION)")

    def client(self, service):
        if service not in self.clients:
            import boto3

            self.clients[service] = boto3.client(service, region_name=self.region, endpoint_url=_endpoint())
        return self.clients[service]

    def get_data_sources(self):
        return []

    def get_resources(self):
        return [EcsService, AppautoscalingTarget, EcsTaskDefinition]


class _Resource(p.Resource):
    """Turns an AWS error of any operation into a Terraform diagnostic naming its code.
    Subclasses implement `_create`, `_read`, `_update` and `_delete`."""

    def __init__(self, provider):
        self.provider = provider

    def upgrade(self, ctx, version, old):
        return old

    def _attempt(self, ctx, action, call, on_error=None):
        try:
            return call()
        except Exception as err:  # noqa: BLE001 - reported to Terraform as a diagnostic
            code = getattr(err, "response", {}).get("Error", {}).get("Code", type(err).__name__)
            ctx.diagnostics.add_error(f"{ctx.type_name}: {action} failed: {code}", str(err))
            return on_error

    def create(self, ctx, planned):
        return self._attempt(ctx, "create", lambda: self._create(ctx, planned))

    def read(self, ctx, current):
        return self._attempt(ctx, "read", lambda: self._read(current), on_error=current)

    def update(self, ctx, current, planned):
        return self._attempt(ctx, "update", lambda: self._update(current, planned))

    def delete(self, ctx, current):
        self._attempt(ctx, "delete", lambda: self._delete(current))


class EcsService(_Resource):
    @classmethod
    def get_name(cls):
        return "ecs_service"

    @classmethod
    def get_schema(cls):
        return schema.Schema(
            attributes=[
                schema.Attribute("id", types.String(), computed=True),
                schema.Attribute("name", types.String(), required=True, requires_replace=True),
                schema.Attribute("cluster", types.String(), required=True, requires_replace=True),
                schema.Attribute("desired_count", types.Number(), optional=True, computed=True),
            ]
        )

    def _describe(self, cluster, name):
        out = self.provider.client("ecs").describe_services(cluster=cluster, services=[name])
        live = [s for s in out["services"] if s["status"] != "INACTIVE"]
        return live[0] if live else None

    def _set_count(self, planned):
        if planned.get("desired_count") is not None:
            self.provider.client("ecs").update_service(
                cluster=planned["cluster"], service=planned["name"], desiredCount=int(planned["desired_count"])
            )

    def _create(self, ctx, planned):
        service = self._describe(planned["cluster"], planned["name"])
        if service is None:
            ctx.diagnostics.add_error(
                f"aws_ecs_service: no service {planned['name']} in cluster {planned['cluster']}",
                "The demo provider adopts existing services; it does not create them.",
            )
            return None
        self._set_count(planned)
        count = planned.get("desired_count")
        return dict(planned, id=service["serviceArn"], desired_count=service["desiredCount"] if count is None else count)

    def _read(self, current):
        service = self._describe(current["cluster"], current["name"])
        if service is None:
            return None
        return dict(current, id=service["serviceArn"], desired_count=service["desiredCount"])

    def _update(self, current, planned):
        self._set_count(planned)
        return dict(planned, id=current["id"])

    def _delete(self, current):
        self.provider.client("ecs").delete_service(cluster=current["cluster"], service=current["name"], force=True)


class AppautoscalingTarget(_Resource):
    @classmethod
    def get_name(cls):
        return "appautoscaling_target"

    @classmethod
    def get_schema(cls):
        return schema.Schema(
            attributes=[
                schema.Attribute("id", types.String(), computed=True),
                schema.Attribute("service_namespace", types.String(), required=True, requires_replace=True),
                schema.Attribute("resource_id", types.String(), required=True, requires_replace=True),
                schema.Attribute("scalable_dimension", types.String(), required=True, requires_replace=True),
                schema.Attribute("min_capacity", types.Number(), required=True),
                schema.Attribute("max_capacity", types.Number(), required=True),
            ]
        )

    def _target(self, state):
        return dict(
            ServiceNamespace=state["service_namespace"],
            ResourceId=state["resource_id"],
            ScalableDimension=state["scalable_dimension"],
        )

    def _register(self, planned):
        self.provider.client("application-autoscaling").register_scalable_target(
            **self._target(planned),
            MinCapacity=int(planned["min_capacity"]),
            MaxCapacity=int(planned["max_capacity"]),
        )
        return dict(planned, id=planned["resource_id"])

    def _create(self, ctx, planned):
        return self._register(planned)

    def _read(self, current):
        out = self.provider.client("application-autoscaling").describe_scalable_targets(
            ServiceNamespace=current["service_namespace"],
            ResourceIds=[current["resource_id"]],
            ScalableDimension=current["scalable_dimension"],
        )
        targets = out["ScalableTargets"]
        if not targets:
            return None
        return dict(current, min_capacity=targets[0]["MinCapacity"], max_capacity=targets[0]["MaxCapacity"])

    def _update(self, current, planned):
        return self._register(planned)

    def _delete(self, current):
        self.provider.client("application-autoscaling").deregister_scalable_target(**self._target(current))


class EcsTaskDefinition(_Resource):
    @classmethod
    def get_name(cls):
        return "ecs_task_definition"

    @classmethod
    def get_schema(cls):
        return schema.Schema(
            attributes=[
                schema.Attribute("id", types.String(), computed=True),
                schema.Attribute("arn", types.String(), computed=True),
                schema.Attribute("revision", types.Number(), computed=True),
                schema.Attribute("family", types.String(), required=True, requires_replace=True),
                schema.Attribute("container_definitions", types.String(), required=True),
            ]
        )

    def plan(self, ctx, current, planned):
        # A change of the containers registers a new revision: its ARN is not known yet.
        if current is not None and "container_definitions" in ctx.changed_fields:
            from tf.types import Unknown

            planned = dict(planned, arn=Unknown, revision=Unknown, id=Unknown)
        return planned

    def _register(self, planned):
        import json

        out = self.provider.client("ecs").register_task_definition(
            family=planned["family"], containerDefinitions=json.loads(planned["container_definitions"])
        )
        td = out["taskDefinition"]
        return dict(planned, id=td["taskDefinitionArn"], arn=td["taskDefinitionArn"], revision=td["revision"])

    def _create(self, ctx, planned):
        return self._register(planned)

    def _read(self, current):
        try:
            td = self.provider.client("ecs").describe_task_definition(taskDefinition=current["arn"])["taskDefinition"]
        except Exception as err:  # noqa: BLE001 - a revision that is gone is read as gone
            if getattr(err, "response", {}).get("Error", {}).get("Code") == "ClientException":
                return None
            raise
        if td.get("status") == "INACTIVE":
            return None
        return dict(current, revision=td["revision"])

    def _update(self, current, planned):
        new = self._register(planned)
        self.provider.client("ecs").deregister_task_definition(taskDefinition=current["arn"])
        return new

    def _delete(self, current):
        self.provider.client("ecs").deregister_task_definition(taskDefinition=current["arn"])


if __name__ == "__main__":
    from tf.runner import run_provider

    run_provider(DemoAws(), sys.argv)
