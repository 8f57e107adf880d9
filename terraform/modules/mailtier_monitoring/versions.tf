terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # invoked_via_function_url on aws_lambda_permission
      version = ">= 6.28"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.5"
    }
  }
}
