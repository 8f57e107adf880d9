# Prometheus scrapes every mail task on the exporter port. awsvpc gives each
# task its own ENI with the tier's security group, so one rule per tier.
#
# aws_security_group_rule, as cabal-infra manages these groups' other rules
# (modules/ecs/security_group.tf): the AWS provider warns against mixing it
# with aws_vpc_security_group_ingress_rule on the same group, where the two
# can overwrite each other's rules.
resource "aws_security_group_rule" "exporter" {
  for_each = module.settings.exporter_ingress_rules

  type                     = each.value.type
  security_group_id        = each.value.security_group_id
  source_security_group_id = each.value.source_security_group_id
  protocol                 = each.value.protocol
  from_port                = each.value.from_port
  to_port                  = each.value.to_port
  description              = each.value.description
}

# imap and smtp-out already have A records in the namespace
# (imap.cabal.internal, smtp-out.cabal.internal); smtp-in has none. An ECS
# service takes a single service registry, so this is the registry the
# smtp-in service is given (see terraform/README.md).
#
# No health_check_custom_config block: its failure_threshold is deprecated,
# and AWS pins it to 1 server-side anyway. As cabal-infra does for its own
# services (modules/ecs/service_discovery.tf), the block is ignored, so the
# server-side value is not read as drift that forces a replacement, which
# would fail while ECS has tasks registered in the service.
resource "aws_service_discovery_service" "smtp_in" {
  count = module.settings.instances.smtp_in_discovery_service

  name = module.settings.smtp_in_discovery_service.name

  dns_config {
    namespace_id   = module.settings.smtp_in_discovery_service.namespace_id
    routing_policy = module.settings.smtp_in_discovery_service.routing_policy

    dns_records {
      ttl  = module.settings.smtp_in_discovery_service.dns_record.ttl
      type = module.settings.smtp_in_discovery_service.dns_record.type
    }
  }

  tags = var.tags

  lifecycle {
    ignore_changes = [health_check_custom_config]
  }
}

# The bracket cabal-infra puts around its Cloud Map services
# (terraform_data.imap_cloud_map_lifecycle and
# smtp_out_cloud_map_lifecycle, modules/ecs/service_discovery.tf), for
# smtp-in's:
#
# * Cloud Map refuses to delete a service that still has registered
#   instances, and ECS registers tasks only when they start. Before the
#   service is destroyed (monitoring turned off, or a replacement), the
#   destroy-time provisioner drains smtp-in to 0 tasks and waits until ECS
#   is stable, so no instance is left.
# * After the service is created (monitoring turned on, or after a
#   replacement) and the smtp-in ECS service points at it, the create-time
#   provisioner restores the desired count and forces a new deployment, so
#   fresh tasks register. smtp-in deploys 200/100, so this roll has no gap.
#
# triggers_replace follows the Cloud Map service's ID ("" while monitoring
# is off), so turning monitoring on or off replaces this resource: destroy
# (drain, only when the old one had a registry), then create (restore and
# redeploy). var.quiesced is included, as in cabal-infra, so quiescing and
# resuming restore the right count. The ECS service name comes from
# module.ecs.smtp_in_service_name, which orders the create after the ECS
# service's update to the new registry.
#
# The first apply that adds this module rolls smtp-in once, even with
# monitoring off (a create, nothing registered). The provisioners run the
# AWS CLI where Terraform runs, as cabal-infra's do.
resource "terraform_data" "smtp_in_cloud_map_lifecycle" {
  count = module.settings.instances.smtp_in_cloud_map_lifecycle

  # [the Cloud Map service's ID or "", var.quiesced]
  triggers_replace = module.settings.smtp_in_cloud_map_lifecycle.triggers_replace

  # cluster_name, ecs_service_name, region, desired_count, registered
  input = module.settings.smtp_in_cloud_map_lifecycle.input

  provisioner "local-exec" {
    when    = destroy
    command = <<-EOT
      set -eu
      if [ "${self.input.registered}" != "true" ]; then
        echo "[smtp-in-cm-lifecycle] ${self.input.ecs_service_name} had no Cloud Map registry; nothing to drain"
        exit 0
      fi
      echo "[smtp-in-cm-lifecycle] draining ${self.input.ecs_service_name} before its Cloud Map service is destroyed"
      aws --region ${self.input.region} ecs update-service \
        --cluster ${self.input.cluster_name} \
        --service ${self.input.ecs_service_name} \
        --desired-count 0 \
        --no-cli-pager >/dev/null
      aws --region ${self.input.region} ecs wait services-stable \
        --cluster ${self.input.cluster_name} \
        --services ${self.input.ecs_service_name}
    EOT
  }

  provisioner "local-exec" {
    command = <<-EOT
      set -eu
      echo "[smtp-in-cm-lifecycle] restoring ${self.input.ecs_service_name} (desired=${self.input.desired_count}) and forcing redeploy"
      aws --region ${self.input.region} ecs update-service \
        --cluster ${self.input.cluster_name} \
        --service ${self.input.ecs_service_name} \
        --desired-count ${self.input.desired_count} \
        --force-new-deployment \
        --no-cli-pager >/dev/null
    EOT
  }
}
