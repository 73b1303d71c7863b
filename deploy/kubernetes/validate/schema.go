package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/client-go/kubernetes/scheme"
	sigsjson "sigs.k8s.io/json"
)

// The built-in kinds of the pinned k8s.io/api release, decoded with unknown and duplicate
// fields as errors (the API server's fieldValidation=Strict).
var strictDecoder = serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()

// Built-in kinds that live outside namespaces (those the checks may meet).
var clusterScoped = map[string]bool{
	"Namespace": true, "ClusterRole": true, "ClusterRoleBinding": true,
	"PersistentVolume": true, "StorageClass": true, "PriorityClass": true,
	"CustomResourceDefinition": true, "ValidatingWebhookConfiguration": true,
	"MutatingWebhookConfiguration": true, "IngressClass": true, "Node": true,
}

// decodeBuiltin decodes a built-in object strictly into its k8s.io/api type.
func decodeBuiltin(o *object) (runtime.Object, []error) {
	typed, gvk, err := strictDecoder.Decode(o.json, nil, nil)
	if err != nil {
		if runtime.IsStrictDecodingError(err) {
			return typed, []error{fmt.Errorf("%s: %w", o, err)}
		}
		if runtime.IsNotRegisteredError(err) {
			return nil, []error{fmt.Errorf("%s: unknown kind: neither a built-in kind of the pinned k8s.io/api nor one of the CRDs read", o)}
		}
		return nil, []error{fmt.Errorf("%s: %w", o, err)}
	}
	if *gvk != o.gvk {
		return nil, []error{fmt.Errorf("%s: decoded as %s", o, gvk)}
	}
	var errs []error
	if accessor, ok := typed.(metav1.Object); ok {
		for _, e := range apimachineryvalidation.ValidateObjectMetaAccessor(accessor, !clusterScoped[o.gvk.Kind], nameRule(o.gvk.Kind), field.NewPath("metadata")) {
			errs = append(errs, fmt.Errorf("%s: %s", o, e))
		}
	}
	return typed, errs
}

// nameRule: the name rule the API server applies to the kind.
func nameRule(kind string) apimachineryvalidation.ValidateNameFunc {
	switch kind {
	case "Service":
		return apimachineryvalidation.NameIsDNS1035Label
	case "Namespace":
		return apimachineryvalidation.ValidateNamespaceName
	case "StatefulSet":
		// Its pods' names (and host names) are <name>-<ordinal>.
		return apimachineryvalidation.NameIsDNSLabel
	default:
		return apimachineryvalidation.NameIsDNSSubdomain
	}
}

// crdVersion is one served version of a custom resource definition.
type crdVersion struct {
	crd        string
	namespaced bool
	structural *structuralschema.Structural
	validator  apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

// crdSet holds the custom resources the checks know, by group, version and kind.
type crdSet map[schema.GroupVersionKind]*crdVersion

// loadCRDs reads every CustomResourceDefinition (apiextensions.k8s.io/v1) in the YAML
// files of dirs (not recursive).
func loadCRDs(dirs []string) (crdSet, error) {
	set := crdSet{}
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("no CRD file (*.yaml) in %s", dir)
		}
		sort.Strings(files)
		for _, file := range files {
			objects, err := readObjects(file)
			if err != nil {
				return nil, err
			}
			for _, o := range objects {
				if o.gvk.Kind != "CustomResourceDefinition" {
					continue
				}
				if err := set.add(o); err != nil {
					return nil, err
				}
			}
		}
	}
	return set, nil
}

func (set crdSet) add(o *object) error {
	if o.gvk.GroupVersion() != apiextensionsv1.SchemeGroupVersion {
		return fmt.Errorf("%s: only apiextensions.k8s.io/v1 CRDs are read", o)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	strict, err := sigsjson.UnmarshalStrict(o.json, &crd)
	if err != nil {
		return fmt.Errorf("%s: %w", o, err)
	}
	if len(strict) > 0 {
		return fmt.Errorf("%s: %v", o, strict)
	}
	for _, v := range crd.Spec.Versions {
		if !v.Served || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			continue
		}
		var internal apiextensions.JSONSchemaProps
		if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
			return fmt.Errorf("%s %s: %w", crd.Name, v.Name, err)
		}
		structural, err := structuralschema.NewStructural(&internal)
		if err != nil {
			return fmt.Errorf("%s %s: not a structural schema: %w", crd.Name, v.Name, err)
		}
		validator, _, err := apiservervalidation.NewSchemaValidator(&internal)
		if err != nil {
			return fmt.Errorf("%s %s: %w", crd.Name, v.Name, err)
		}
		gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}
		set[gvk] = &crdVersion{
			crd:        fmt.Sprintf("%s (%s)", crd.Name, o.where),
			namespaced: crd.Spec.Scope == apiextensionsv1.NamespaceScoped,
			structural: structural,
			validator:  validator,
			cel:        cel.NewValidator(structural, true, celconfig.PerCallLimit),
		}
	}
	return nil
}

// validateCustom checks a custom resource as the API server would on create: unknown
// fields (those the schema would prune) are errors, then defaults are applied, then the
// OpenAPI schema and the CEL rules (x-kubernetes-validations) are checked, and the
// metadata decoded strictly and validated.
func validateCustom(o *object, v *crdVersion) []error {
	var errs []error
	fail := func(format string, args ...interface{}) {
		errs = append(errs, fmt.Errorf("%s: %s", o, fmt.Sprintf(format, args...)))
	}
	var u map[string]interface{}
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(o.json, &u); err != nil {
		return []error{fmt.Errorf("%s: %w", o, err)}
	}
	opts := structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}
	if unknown := pruning.PruneWithOptions(u, v.structural, true, opts); len(unknown) > 0 {
		sort.Strings(unknown)
		fail("unknown field(s) %s (schema %s)", strings.Join(unknown, ", "), v.crd)
	}
	var meta metav1.ObjectMeta
	if metaJSON, err := jsonOf(u["metadata"]); err != nil {
		fail("metadata: %v", err)
	} else if strict, err := sigsjson.UnmarshalStrict(metaJSON, &meta); err != nil {
		fail("metadata: %v", err)
	} else if len(strict) > 0 {
		fail("metadata: %v", strict)
	} else {
		for _, e := range apimachineryvalidation.ValidateObjectMeta(&meta, v.namespaced, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata")) {
			fail("%s", e)
		}
	}
	defaulting.Default(u, v.structural)
	for _, e := range apiservervalidation.ValidateCustomResource(nil, u, v.validator) {
		fail("%s", e)
	}
	if v.cel != nil { // nil: the schema has no CEL rule
		celErrs, _ := v.cel.Validate(context.Background(), nil, v.structural, u, nil, celconfig.RuntimeCELCostBudget)
		for _, e := range celErrs {
			fail("%s", e)
		}
	}
	return errs
}

func jsonOf(v interface{}) ([]byte, error) {
	if v == nil {
		return []byte("{}"), nil
	}
	return jsonMarshal(v)
}

// readFile is os.ReadFile with the path in the error.
func readFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return data, nil
}
