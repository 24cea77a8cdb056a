/** The plugin's --help texts, one per command (docs/plugin.md says the same at more length). */

const TARGET_FLAGS = `Connection flags (every command):
  -n, --namespace NS     the endpoint's namespace (default: the context's namespace, else "default")
      --kubeconfig PATH  the kubeconfig (default: $KUBECONFIG, else ~/.kube/config, else in-cluster)
      --context NAME     a context of the kubeconfig (default: its current context)
  -h, --help             this help`;

const BUDGET_FLAGS = `Budgets (Vertex AI rolloutOptions; a count of replicas, or a percentage of the pool with %):
      --max-surge N|P%         replicas above the pool during the rollout (default 25%)
      --max-unavailable N|P%   replicas below the pool during the rollout (default 25%)
      --progress-deadline D    fail and revert after this long without progress, e.g. 90s, 10m
                               (default 600s)`;

const EXIT_CODES = `Exit codes: 0 done; 1 the rollout FAILED (or was replaced); 2 bad usage; 3 timed out;
4 any other error (not found, refused, the API server unreachable).`;

export const HELP = {
  main: `kubectl modelendpoint: look at and drive ModelEndpoints (serving.modelendpoint.io/v1alpha1)

Usage: kubectl modelendpoint <command> [arguments] [flags]

Commands:
  get [NAME]                 deployed models: revisions, states, replicas, effective traffic
  rollout status NAME [ID]   follow a rolling deployment until it completes or fails
  rollout history NAME       every revision of every rollout chain
  deploy NAME ID             add a rolling deployment of a new image onto a deployed model
  rollback NAME              roll the previous model back onto the newest (even in-progress) revision
  undeploy NAME ID           remove a deployed model that has no traffic

Run "kubectl modelendpoint <command> --help" for a command's flags.

Writes never overwrite blindly: each one replaces the endpoint at the resourceVersion it read
(the API server refuses it if anyone changed the endpoint since), is checked first with the
API's own validation, and is retried from a fresh read on a conflict.

${TARGET_FLAGS}
      --version          the plugin's version

${EXIT_CODES}
`,
  get: `kubectl modelendpoint get [NAME] [flags]

Shows each endpoint's conditions and its deployed models: revision, model, image, state,
ready/desired replicas, the effective traffic (status.trafficSplit) and the spec's share.
Without --all-deployment-states only models in the endpoint's served set are listed (DEPLOYED
and REPLACED), as Vertex AI's Endpoint.deployedModels; in-progress (BEING_DEPLOYED) and FAILED
rolling deployments are counted in a note.

Flags:
      --all-deployment-states   list BEING_DEPLOYED and FAILED models too (Vertex AI allDeploymentStates)
  -A, --all-namespaces          every namespace (no NAME)
  -o, --output FORMAT           table (default), wide (adds messages and ids of previous models),
                                json or yaml (the objects as the API server returns them)

${TARGET_FLAGS}

Examples:
  kubectl modelendpoint get -n ml
  kubectl modelendpoint get fraud -n ml --all-deployment-states
`,
  rollout: `kubectl modelendpoint rollout <status|history> NAME [flags]

  status NAME [ID]   follow a rolling deployment until it completes or fails
  history NAME       every revision of every rollout chain

Run "kubectl modelendpoint rollout status --help" for its flags.
`,
  "rollout status": `kubectl modelendpoint rollout status NAME [ID] [flags]

Follows the rolling deployment ID (default: the one in progress, else the newest) and prints a
line each time its progress changes (replicas of the new and the previous revisions, the
effective traffic), until its chain has converged on it (exit 0), it FAILED and reverted or a
later revision replaced it (exit 1), or --timeout passed (exit 3). It waits for the operator to
observe the endpoint's latest generation first, so it can run right after deploy or kubectl apply.

Flags:
      --timeout D   give up after D, e.g. 90s, 10m, 1h (default 10m; 0 waits for ever)

${TARGET_FLAGS}

${EXIT_CODES}

Example:
  kubectl modelendpoint rollout status fraud -n ml --timeout 15m && echo rolled out
`,
  "rollout history": `kubectl modelendpoint rollout history NAME [flags]

Lists every revision of every rollout chain of the endpoint, oldest first: revision number,
deployed model id, the model it rolled onto, model, image, state, when it was created and last
changed, and why it failed.

Flags:
  -o, --output FORMAT   table (default), wide (adds the message), json or yaml

${TARGET_FLAGS}
`,
  deploy: `kubectl modelendpoint deploy NAME ID --image IMAGE --model MODEL [flags]

Adds the deployed model ID to endpoint NAME as a rolling deployment (Vertex AI rolloutOptions)
onto --previous: it reuses the previous model's compute and traffic share, replaces its replicas
within the budgets, and reverts by itself if the new replicas never become ready. The new
model's predict and health routes are the previous model's (a rolling deployment must keep
them). Follow it with "kubectl modelendpoint rollout status NAME ID".

Flags:
      --image IMAGE            the serving container image (containerSpec.imageUri) (required)
      --model NAME[@VERSION]   the model (informational; AIP_MODEL_NAME) (required)
      --previous ID            the deployed model to replace (default: the only rollout chain's
                               current revision)
      --port N                 the serving port (default: the previous model's)
      --env NAME=VALUE         an environment variable (repeatable)
      --arg ARG                a container argument (repeatable; --arg=--flag for one that
                               starts with a dash)
      --command CMD            the container command, word by word (repeatable)
      --service-account NAME   the pods' ServiceAccount (default: inherited from the previous model)
      --dry-run                print the new deployed model and write nothing

${BUDGET_FLAGS}

${TARGET_FLAGS}

Example:
  kubectl modelendpoint deploy fraud m2 -n ml --image registry.example/fraud:2.0 \\
    --model fraud-detector@2 --previous m1 --max-surge 1 --max-unavailable 0
`,
  rollback: `kubectl modelendpoint rollback NAME [flags]

Vertex AI's rollback recipe: adds a new rolling deployment of the previous model (its image and
container) onto the newest revision of a chain, even while that revision is still rolling out.
Being the highest revision, the new entry is what the chain converges on: the in-progress and the
original revisions are retired within the same budgets.

Flags:
      --from ID   the revision to roll back from (default: the rollout in progress, else the newest
                  revision of the only chain that has one)
      --id ID     the new deployed model's id (default: <previous id>-r<new revision>)
      --dry-run   print the new deployed model and write nothing

${BUDGET_FLAGS}

${TARGET_FLAGS}

Example:
  kubectl modelendpoint rollback fraud -n ml --max-surge 1 --max-unavailable 0
`,
  undeploy: `kubectl modelendpoint undeploy NAME ID [flags]

Removes the deployed model ID from the endpoint; the operator retires its replicas. Refused while
the model has traffic: a share in spec.trafficSplit, or effective traffic in status.trafficSplit
(e.g. an in-progress rollout serving from it). As Vertex AI's UndeployModel, --traffic-split moves
the share away in the same write.

Flags:
      --traffic-split ID=PERCENT,...   the new spec.trafficSplit (sums to 100; "" for none)
      --dry-run                        print the change and write nothing

${TARGET_FLAGS}

Example (after m2 replaced m1):
  kubectl modelendpoint undeploy fraud m1 -n ml --traffic-split m2=100
`,
} as const;

export type HelpTopic = keyof typeof HELP;
