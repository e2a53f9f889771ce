// `npm start`: runs the tenant operator on the local control plane (or a given cluster).
console.log("tenant-operator: not yet available — the operator lands with packages/tenant-operator.")
