# The deployer's task definition, as the prod root's `ecs` module registers it (through
# the demo AWS provider that services.tf configures): its one
# container runs the pinned image, so a bump is a new revision in the plan and the apply
# registers it (the replaced revision is deregistered). `ecr-tags pins --live` compares
# the family's latest ACTIVE revision with the pin (the image block's `task_definition`).
resource "aws_ecs_task_definition" "prefect_deployer" {
  family = "${local.ecs_cluster}-prefect-deployer"
  container_definitions = jsonencode([
    {
      name      = "prefect-deployer"
      image     = local.prefect_deployer_image
      essential = true
      memory    = 512
      cpu       = 256
    }
  ])
}
