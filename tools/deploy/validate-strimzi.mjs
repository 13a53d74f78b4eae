// Validates Strimzi custom resources against the schemas of the Strimzi CRDs, offline.
//
// Input (stdin): a JSON array of Kubernetes objects. Output (stdout): a JSON array with one entry
// per object, {kind, name, errors}, errors being [] for a valid object. Exit status 0 when every
// object is valid, 1 when one is not, 2 when an object is not a Strimzi kind this knows.
//
// The schemas are @kubernetes-models/strimzi-kafka-operator's, generated from the CRDs of the
// Strimzi 0.49.0 and 1.0.0 releases (kafka.strimzi.io/v1 is 1.0.0's). They check types, enums and
// required fields; like the API server they do not reject fields the CRD does not name.
import * as v1 from "@kubernetes-models/strimzi-kafka-operator/kafka.strimzi.io/v1";
import * as v1beta2 from "@kubernetes-models/strimzi-kafka-operator/kafka.strimzi.io/v1beta2";

const models = { "kafka.strimzi.io/v1": v1, "kafka.strimzi.io/v1beta2": v1beta2 };

let input = "";
for await (const chunk of process.stdin) input += chunk;
const objects = JSON.parse(input);

let status = 0;
const results = objects.map((object) => {
  const name = object?.metadata?.name ?? "";
  const model = models[object?.apiVersion]?.[object?.kind];
  if (model === undefined) {
    status = Math.max(status, 2);
    return { kind: object?.kind, name, errors: [`unknown Strimzi kind ${object?.apiVersion} ${object?.kind}`] };
  }
  try {
    new model(object).validate();
    return { kind: object.kind, name, errors: [] };
  } catch (error) {
    status = Math.max(status, 1);
    const details = (error.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}`);
    return { kind: object.kind, name, errors: details.length ? details : [String(error.message)] };
  }
});
process.stdout.write(JSON.stringify(results));
process.exitCode = status;
