/**
 * End to end, as a user: the operator's CLI runs as a separate process against the test cluster
 * and a Tenant is driven through its whole life with kubectl (see `lifecycle.ts`). Both use the
 * admin kubeconfig here; the deploy tests run the same scenario with the operator's own
 * ServiceAccount.
 */
import { describeCluster, kubeconfigPath } from "../../../k8s/test/cluster.ts"
import { lifecycleScenario } from "./lifecycle.ts"

describeCluster("Tenant lifecycle, end to end (operator process + kubectl)", () => {
  lifecycleScenario({ adminKubeconfig: () => kubeconfigPath ?? "" })
})
