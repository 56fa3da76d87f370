"""The global condition keys: usable in any policy, for any service, with their types.

The service reference lists only the few global keys each service documents, so iamflow keeps its
own table, after AWS's "AWS global condition context keys" page. A key's type says which operators
fit it; ``ArrayOf...`` marks a multi-valued key, the only kind the ``ForAllValues:`` and
``ForAnyValue:`` prefixes belong on. ``${TagKey}`` stands for any tag key.

Cross-service keys (``ec2:SourceInstanceArn``, ``lambda:SourceFunctionArn`` ...) are set by one
service in the request context of every other service's actions, so they count as global too.
"""

from __future__ import annotations

# (name, type) of every global key
GLOBAL_KEY_TYPES: tuple[tuple[str, str], ...] = (
    # properties of the principal
    ("aws:PrincipalArn", "ARN"),
    ("aws:PrincipalAccount", "String"),
    ("aws:PrincipalOrgPaths", "ArrayOfString"),
    ("aws:PrincipalOrgID", "String"),
    ("aws:PrincipalTag/${TagKey}", "String"),
    ("aws:PrincipalIsAWSService", "Bool"),
    ("aws:PrincipalServiceName", "String"),
    ("aws:PrincipalServiceNamesList", "ArrayOfString"),
    ("aws:PrincipalType", "String"),
    ("aws:userid", "String"),
    ("aws:username", "String"),
    # properties of a role session
    ("aws:AssumedRoot", "Bool"),
    ("aws:FederatedProvider", "String"),
    ("aws:TokenIssueTime", "Date"),
    ("aws:MultiFactorAuthAge", "Numeric"),
    ("aws:MultiFactorAuthPresent", "Bool"),
    ("aws:ChatbotSourceArn", "ARN"),
    ("aws:Ec2InstanceSourceVpc", "String"),
    ("aws:Ec2InstanceSourcePrivateIPv4", "IPAddress"),
    ("aws:SourceIdentity", "String"),
    ("ec2:RoleDelivery", "Numeric"),
    ("ec2:SourceInstanceArn", "ARN"),
    ("glue:RoleAssumedBy", "String"),
    ("glue:CredentialIssuingService", "String"),
    ("codebuild:BuildArn", "ARN"),
    ("codebuild:ProjectArn", "ARN"),
    ("lambda:SourceFunctionArn", "ARN"),
    ("ssm:SourceInstanceArn", "ARN"),
    ("identitystore:UserId", "String"),
    # properties of the network
    ("aws:SourceIp", "IPAddress"),
    ("aws:SourceVpc", "String"),
    ("aws:SourceVpcArn", "ARN"),
    ("aws:SourceVpce", "String"),
    ("aws:VpceAccount", "String"),
    ("aws:VpceOrgPaths", "ArrayOfString"),
    ("aws:VpceOrgID", "String"),
    ("aws:VpcSourceIp", "IPAddress"),
    # properties of the resource
    ("aws:ResourceAccount", "String"),
    ("aws:ResourceOrgID", "String"),
    ("aws:ResourceOrgPaths", "ArrayOfString"),
    ("aws:ResourceTag/${TagKey}", "String"),
    # properties of the request
    ("aws:CalledVia", "ArrayOfString"),
    ("aws:CalledViaFirst", "String"),
    ("aws:CalledViaLast", "String"),
    ("aws:CalledViaAWSMCP", "String"),
    ("aws:ViaAWSMCPService", "Bool"),
    ("aws:ViaAWSService", "Bool"),
    ("aws:CurrentTime", "Date"),
    # documented as "Date, Numeric": seconds since the epoch, compared with either family
    ("aws:EpochTime", "Date"),
    ("aws:referer", "String"),
    ("aws:RequestedRegion", "String"),
    ("aws:RequestTag/${TagKey}", "String"),
    ("aws:TagKeys", "ArrayOfString"),
    ("aws:SecureTransport", "Bool"),
    ("aws:SourceAccount", "String"),
    ("aws:SourceArn", "ARN"),
    ("aws:SourceOrgID", "String"),
    ("aws:SourceOrgPaths", "ArrayOfString"),
    ("aws:UserAgent", "String"),
)
