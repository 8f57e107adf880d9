# Prometheus scrapes every mail task on the exporter port. awsvpc gives each
# task its own ENI with the tier's security group, so one rule per tier.
resource "aws_vpc_security_group_ingress_rule" "exporter" {
  for_each = var.monitoring ? var.tier_security_group_ids : {}

  security_group_id            = each.value
  referenced_security_group_id = var.prometheus_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = var.exporter_port
  to_port                      = var.exporter_port
  description                  = "mailtier exporter scrape from Prometheus (${each.key})"
  tags                         = var.tags
}

# imap and smtp-out already have A records in the namespace
# (imap.cabal.internal, smtp-out.cabal.internal); smtp-in has none. An ECS
# service takes a single service registry, so this is the registry the
# smtp-in service is given (see terraform/README.md).
resource "aws_service_discovery_service" "smtp_in" {
  count = var.monitoring ? 1 : 0

  name = var.tier_discovery_names["smtp-in"]

  dns_config {
    namespace_id   = var.service_discovery_namespace_id
    routing_policy = "MULTIVALUE"

    dns_records {
      ttl  = 10
      type = "A"
    }
  }

  health_check_custom_config {
    failure_threshold = 1
  }

  tags = var.tags

  lifecycle {
    ignore_changes = [health_check_custom_config]
  }
}
