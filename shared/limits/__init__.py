"""Limits shared by every worker of a deployment, kept in Table storage: the Intacct
company's requests in flight (`LeaseSemaphore`) and the Dataverse application user's learned
concurrency cap (`SharedCap`); `DeploymentLimits` attaches them to the connectors."""

from shared.limits.cap import SharedCap
from shared.limits.deployment import DeploymentLimits
from shared.limits.semaphore import Lease, LeaseSemaphore

__all__ = ["DeploymentLimits", "Lease", "LeaseSemaphore", "SharedCap"]
