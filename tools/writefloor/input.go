// input.go owns what writefloor is asked to do: the shape of the run (workers, creates in flight,
// the UID placeholder) and, per tenant, the Tenant to create and its ordered writes, read from a
// JSON document (unknown fields are errors) and checked before anything is sent. It must not talk
// to the cluster.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// resource is where an object lives: its group, version, plural and (if namespaced) namespace.
type resource struct {
	Group     string `json:"group"`
	Version   string `json:"version"`
	Resource  string `json:"resource"`
	Namespace string `json:"namespace,omitempty"`
}

func (r resource) gvr() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: r.Group, Version: r.Version, Resource: r.Resource}
}

// create is the Tenant as a user creates it: a plain POST of body.
type create struct {
	resource
	Body json.RawMessage `json:"body"`
}

// write is one PATCH of the tenant's job, sent as it is once the UID placeholder in its body is
// replaced by the created Tenant's UID.
type write struct {
	resource
	Name         string          `json:"name"`
	Subresource  string          `json:"subresource,omitempty"`
	PatchType    string          `json:"patchType"`
	Body         json.RawMessage `json:"body"`
	FieldManager string          `json:"fieldManager"`
	// Force is only meaningful (and only allowed) for server-side apply.
	Force *bool `json:"force,omitempty"`
}

type tenant struct {
	Create create  `json:"create"`
	Writes []write `json:"writes"`
}

// job is the whole JSON input.
type job struct {
	// Concurrency is how many workers provision tenants, each one tenant at a time.
	Concurrency int `json:"concurrency"`
	// InFlight is how many Tenant creates are in flight at once.
	InFlight int `json:"inFlight"`
	// UIDPlaceholder stands for the created Tenant's UID in the writes' bodies.
	UIDPlaceholder string   `json:"uidPlaceholder"`
	Tenants        []tenant `json:"tenants"`
}

var patchTypes = map[string]types.PatchType{
	"apply": types.ApplyPatchType,
	"json":  types.JSONPatchType,
	"merge": types.MergePatchType,
}

// readJob parses the JSON input from path ("-" for stdin).
func readJob(path string) (job, error) {
	var in io.Reader = os.Stdin
	if path != "-" {
		file, err := os.Open(path)
		if err != nil {
			return job{}, err
		}
		defer file.Close()
		in = file
	}
	var j job
	decoder := json.NewDecoder(in)
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&j); err != nil {
		return job{}, fmt.Errorf("input %s: %w", path, err)
	}
	if decoder.More() {
		return job{}, fmt.Errorf("input %s: more than one JSON value", path)
	}
	return j, j.validate()
}

// tenantName is the name in a create's body, for messages.
func (c create) tenantName() string {
	var object struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if json.Unmarshal(c.Body, &object) != nil {
		return ""
	}
	return object.Metadata.Name
}

func (w write) describe() string {
	where := w.Name
	if w.Namespace != "" {
		where = w.Namespace + "/" + w.Name
	}
	gr := w.Resource
	if w.Group != "" {
		gr += "." + w.Group
	}
	target := gr + " " + where
	if w.Subresource != "" {
		target += " (" + w.Subresource + ")"
	}
	return fmt.Sprintf("%s patch of %s as %s", w.PatchType, target, w.FieldManager)
}

func (r resource) check(where string) error {
	if r.Version == "" || r.Resource == "" {
		return fmt.Errorf("%s: version and resource are required", where)
	}
	return nil
}

// validate checks the input on its own: every mistake found here is one not sent to the server.
func (j job) validate() error {
	if j.Concurrency < 1 || j.InFlight < 1 {
		return fmt.Errorf("concurrency and inFlight must be at least 1 (got %d and %d)", j.Concurrency, j.InFlight)
	}
	if j.UIDPlaceholder == "" {
		return fmt.Errorf("uidPlaceholder is required")
	}
	if len(j.Tenants) == 0 {
		return fmt.Errorf("no tenants")
	}
	for i, t := range j.Tenants {
		name := t.Create.tenantName()
		if name == "" {
			return fmt.Errorf("tenant %d: the create's body has no metadata.name", i)
		}
		if err := t.Create.check(fmt.Sprintf("tenant %s: create", name)); err != nil {
			return err
		}
		for k, w := range t.Writes {
			where := fmt.Sprintf("tenant %s: write %d", name, k)
			if err := w.check(where); err != nil {
				return err
			}
			if w.Name == "" || w.FieldManager == "" {
				return fmt.Errorf("%s: name and fieldManager are required", where)
			}
			if _, ok := patchTypes[w.PatchType]; !ok {
				return fmt.Errorf("%s: patchType %q is not apply, json or merge", where, w.PatchType)
			}
			if w.Force != nil && w.PatchType != "apply" {
				return fmt.Errorf("%s: force is only for server-side apply", where)
			}
			opening := bytes.TrimSpace(w.Body)
			if len(opening) == 0 || (opening[0] != '{' && opening[0] != '[') {
				return fmt.Errorf("%s: body must be a JSON object or array", where)
			}
		}
	}
	return nil
}
