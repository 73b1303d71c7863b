package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// object is one document of a rendered manifest stream.
type object struct {
	// where: file and document number, for the messages.
	where string
	json  []byte
	// raw: the document as the API server decodes it (integers as int64).
	raw       map[string]interface{}
	gvk       schema.GroupVersionKind
	name      string
	namespace string
	labels    map[string]string
}

func (o *object) String() string {
	return fmt.Sprintf("%s %s/%s (%s)", o.gvk.Kind, o.namespace, o.name, o.where)
}

// readObjects reads every non-empty document of a YAML stream. A duplicate key is an
// error, as in the API server's strict field validation.
func readObjects(path string) ([]*object, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseObjects(path, f)
}

func parseObjects(path string, r io.Reader) ([]*object, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	var objects []*object
	for n := 1; ; n++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objects, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", path, n, err)
		}
		where := fmt.Sprintf("%s#%d", path, n)
		js, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if len(bytes.TrimSpace(js)) == 0 || bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
			continue
		}
		o, err := newObject(where, js)
		if err != nil {
			return nil, err
		}
		objects = append(objects, o)
	}
}

func newObject(where string, js []byte) (*object, error) {
	var raw map[string]interface{}
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(js, &raw); err != nil {
		return nil, fmt.Errorf("%s: not an object: %w", where, err)
	}
	o := &object{where: where, json: js, raw: raw}
	apiVersion, _ := raw["apiVersion"].(string)
	kind, _ := raw["kind"].(string)
	if apiVersion == "" || kind == "" {
		return nil, fmt.Errorf("%s: apiVersion and kind are required", where)
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	o.gvk = gv.WithKind(kind)
	if meta, ok := raw["metadata"].(map[string]interface{}); ok {
		o.name, _ = meta["name"].(string)
		o.namespace, _ = meta["namespace"].(string)
		if labels, ok := meta["labels"].(map[string]interface{}); ok {
			o.labels = map[string]string{}
			for k, v := range labels {
				o.labels[k], _ = v.(string)
			}
		}
	}
	return o, nil
}

// valueAt reads a nested value of the object (nil when a step is missing).
func valueAt(v interface{}, path ...string) interface{} {
	for _, p := range path {
		m, ok := v.(map[string]interface{})
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}
