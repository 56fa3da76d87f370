"""The actions behind iamflow's security warnings, grouped by the risk they carry.

Every name here is an action of the IAM service reference (a test checks each one against the
catalog, so a rename upstream is noticed). The groups follow public research on IAM risk:

- privilege escalation: the paths Rhino Security Labs published in "AWS IAM Privilege Escalation
  - Methods and Mitigations" (2018) and that later tools (Cloudsplaining, iam-vulnerable) test for.
  A principal that may call one of ``ESCALATION_ACTIONS`` on every resource can give itself (or a
  user it controls) more permissions; ``ESCALATION_COMBINATIONS`` need every action of the tuple,
  typically ``iam:PassRole`` plus a way to run code as the passed role;
- credential exposure: actions whose response holds a credential (a password, an access key, a
  token or a signed connection) for something other than the caller's own session. The STS
  ``AssumeRole*`` and ``Get*Token`` calls are left out: ``assume-role-any`` covers AssumeRole, the
  web-identity and SAML calls are not authorised by identity policies, and the token calls only
  hand the caller its own permissions;
- data exfiltration: the reads that return stored data or secrets themselves (object bodies,
  parameters, secret values), the short list Cloudsplaining uses plus their batch and history
  variants;
- KMS: what makes a key policy open to anyone dangerous: reading plaintext (``Decrypt``,
  ``ReEncryptFrom`` which lets the caller move ciphertext under its own key, the data-key calls
  that return plaintext keys) and taking control of the key (``CreateGrant``, ``PutKeyPolicy``).
"""

from __future__ import annotations

PASS_ROLE = "iam:PassRole"
ASSUME_ROLE = "sts:AssumeRole"
ASSUME_ROLE_WITH_WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"

# each alone lets a principal widen its own (or a controlled identity's) permissions
ESCALATION_ACTIONS: tuple[str, ...] = (
    "iam:AddUserToGroup",
    "iam:AttachGroupPolicy",
    "iam:AttachRolePolicy",
    "iam:AttachUserPolicy",
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:CreatePolicyVersion",
    "iam:PutGroupPolicy",
    "iam:PutRolePolicy",
    "iam:PutUserPolicy",
    "iam:SetDefaultPolicyVersion",
    "iam:UpdateLoginProfile",
    # runs code as the role an existing function or development endpoint already has
    "lambda:UpdateFunctionCode",
    "glue:UpdateDevEndpoint",
)

# escalations that need every action of the tuple
ESCALATION_COMBINATIONS: tuple[tuple[str, ...], ...] = (
    ("iam:UpdateAssumeRolePolicy", ASSUME_ROLE),
    (PASS_ROLE, "lambda:CreateFunction", "lambda:InvokeFunction"),
    (PASS_ROLE, "lambda:CreateFunction", "lambda:CreateEventSourceMapping"),
    (PASS_ROLE, "ec2:RunInstances"),
    (PASS_ROLE, "cloudformation:CreateStack"),
    (PASS_ROLE, "glue:CreateDevEndpoint"),
    (PASS_ROLE, "datapipeline:CreatePipeline", "datapipeline:PutPipelineDefinition"),
    (PASS_ROLE, "sagemaker:CreateNotebookInstance", "sagemaker:CreatePresignedNotebookInstanceUrl"),
    (PASS_ROLE, "ecs:RegisterTaskDefinition", "ecs:RunTask"),
    (PASS_ROLE, "codebuild:CreateProject", "codebuild:StartBuild"),
)

CREDENTIAL_EXPOSURE_ACTIONS: tuple[str, ...] = (
    "chime:CreateApiKey",
    "codepipeline:PollForJobs",
    "cognito-identity:GetCredentialsForIdentity",
    "cognito-identity:GetOpenIdToken",
    "cognito-identity:GetOpenIdTokenForDeveloperIdentity",
    "connect:GetFederationToken",
    "ec2:GetPasswordData",
    "ecr:GetAuthorizationToken",
    "ecr-public:GetAuthorizationToken",
    "gamelift:GetInstanceAccess",
    "gamelift:RequestUploadCredentials",
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:CreateServiceSpecificCredential",
    "iam:ResetServiceSpecificCredential",
    "iam:UpdateLoginProfile",
    "lightsail:DownloadDefaultKeyPair",
    "lightsail:GetInstanceAccessDetails",
    "lightsail:GetRelationalDatabaseMasterUserPassword",
    "mediapackage:RotateIngestEndpointCredentials",
    "rds-db:Connect",
    "redshift:GetClusterCredentials",
    "redshift:GetClusterCredentialsWithIAM",
    "redshift-serverless:GetCredentials",
)

DATA_EXFILTRATION_ACTIONS: tuple[str, ...] = (
    "s3:GetObject",
    "s3:GetObjectVersion",
    "secretsmanager:BatchGetSecretValue",
    "secretsmanager:GetSecretValue",
    "ssm:GetParameter",
    "ssm:GetParameterHistory",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
)

KMS_OPEN_KEY_ACTIONS: tuple[str, ...] = (
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyPair",
    "kms:PutKeyPolicy",
    "kms:ReEncryptFrom",
)


def every_listed_action() -> tuple[str, ...]:
    """Every action this module names (for the catalog check)."""
    names = {PASS_ROLE, ASSUME_ROLE, ASSUME_ROLE_WITH_WEB_IDENTITY, *ESCALATION_ACTIONS,
             *CREDENTIAL_EXPOSURE_ACTIONS, *DATA_EXFILTRATION_ACTIONS, *KMS_OPEN_KEY_ACTIONS}
    for combination in ESCALATION_COMBINATIONS:
        names.update(combination)
    return tuple(sorted(names))
