// floor.go owns the run: Tenants created InFlight at a time in index order while Concurrency
// workers take tenants in creation order, each worker one tenant at a time, waiting for that
// tenant's create, then sending its writes in order (the UID placeholder replaced by the created
// Tenant's UID). The first failure stops everything and is returned, naming the tenant and the
// object. It times the run from the first create to the last write and knows nothing of what the
// writes mean.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
)

type result struct {
	// Millis is from the first create's start to the last write's answer.
	Millis  float64 `json:"millis"`
	Tenants int     `json:"tenants"`
	// Writes counts the patches, not the creates.
	Writes  int64 `json:"writes"`
	Creates int64 `json:"creates"`
	Pid     int   `json:"pid"`
}

// resourceFor addresses r through the dynamic client.
func resourceFor(client dynamic.Interface, r resource) dynamic.ResourceInterface {
	if r.Namespace == "" {
		return client.Resource(r.gvr())
	}
	return client.Resource(r.gvr()).Namespace(r.Namespace)
}

// runFloor runs the job; the first error cancels the rest.
func runFloor(parent context.Context, client dynamic.Interface, j job) (result, error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	n := len(j.Tenants)

	// Decoded before the clock starts: what is timed is the exchange with the API server.
	objects := make([]*unstructured.Unstructured, n)
	for i, t := range j.Tenants {
		objects[i] = &unstructured.Unstructured{}
		if err := objects[i].UnmarshalJSON(t.Create.Body); err != nil {
			return result{}, fmt.Errorf("tenant %s: the create's body: %w", t.Create.tenantName(), err)
		}
	}

	var failOnce sync.Once
	var failure error
	fail := func(err error) {
		failOnce.Do(func() { failure = err; cancel() })
	}

	uids := make([]string, n)
	created := make([]chan struct{}, n)
	for i := range created {
		created[i] = make(chan struct{})
	}
	var nextCreate, nextTenant, creates, writes, done atomic.Int64

	start := time.Now()
	stopProgress := progress(start, n, &creates, &done)
	defer stopProgress()

	var creators sync.WaitGroup
	for range j.InFlight {
		creators.Add(1)
		go func() {
			defer creators.Done()
			for i := int(nextCreate.Add(1) - 1); i < n && ctx.Err() == nil; i = int(nextCreate.Add(1) - 1) {
				c := j.Tenants[i].Create
				object, err := resourceFor(client, c.resource).Create(ctx, objects[i], metav1.CreateOptions{})
				if err != nil {
					fail(fmt.Errorf("tenant %s: create of %s: %w%s", c.tenantName(), c.Resource, err, causes(err)))
					return
				}
				uids[i] = string(object.GetUID())
				creates.Add(1)
				close(created[i])
			}
		}()
	}

	placeholder := []byte(j.UIDPlaceholder)
	var workers sync.WaitGroup
	for range j.Concurrency {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for i := int(nextTenant.Add(1) - 1); i < n; i = int(nextTenant.Add(1) - 1) {
				select {
				case <-created[i]:
				case <-ctx.Done():
					return
				}
				t := j.Tenants[i]
				uid := []byte(uids[i])
				for _, w := range t.Writes {
					force := w.Force
					if w.PatchType != "apply" {
						force = nil
					}
					_, err := resourceFor(client, w.resource).Patch(ctx, w.Name, patchTypes[w.PatchType],
						bytes.ReplaceAll(w.Body, placeholder, uid),
						metav1.PatchOptions{FieldManager: w.FieldManager, Force: force}, subresources(w)...)
					if err != nil {
						fail(fmt.Errorf("tenant %s: %s: %w%s", t.Create.tenantName(), w.describe(), err, explain(w, err)))
						return
					}
					writes.Add(1)
				}
				done.Add(1)
			}
		}()
	}
	workers.Wait()
	end := time.Now()
	cancel()
	creators.Wait()
	if failure != nil {
		return result{}, failure
	}
	return result{
		Millis:  float64(end.Sub(start).Microseconds()) / 1000,
		Tenants: n,
		Writes:  writes.Load(),
		Creates: creates.Load(),
		Pid:     os.Getpid(),
	}, nil
}

// causes is what the API server said beyond its message (each invalid field, say), or nothing.
func causes(err error) string {
	status, ok := err.(apierrors.APIStatus)
	if !ok || status.Status().Details == nil {
		return ""
	}
	var text strings.Builder
	for _, cause := range status.Status().Details.Causes {
		fmt.Fprintf(&text, "; %s %s", cause.Field, cause.Message)
	}
	return text.String()
}

// explain is what the API server said beyond its message; for a JSON patch refused without a
// cause, that a test operation failed (the API server says no more).
func explain(w write, err error) string {
	said := causes(err)
	if said == "" && w.PatchType == "json" && apierrors.IsInvalid(err) {
		return " (a JSON patch refused without a cause: one of its test operations failed, such as the UID's)"
	}
	return said
}

func subresources(w write) []string {
	if w.Subresource == "" {
		return nil
	}
	return []string{w.Subresource}
}

// progress reports on stderr every 10 s until stopped.
func progress(start time.Time, n int, creates, done *atomic.Int64) func() {
	ticker := time.NewTicker(10 * time.Second)
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-ticker.C:
				fmt.Fprintf(os.Stderr, "writefloor: %d/%d created, %d/%d done after %.0f s\n",
					creates.Load(), n, done.Load(), n, time.Since(start).Seconds())
			case <-stop:
				return
			}
		}
	}()
	return func() { ticker.Stop(); close(stop) }
}

// encodeResult writes the result as one line of JSON.
func encodeResult(r result) error {
	return json.NewEncoder(os.Stdout).Encode(r)
}
