package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
)

// rendered is one overlay's objects, decoded.
type rendered struct {
	name    string
	objects []*object
	typed   map[*object]runtime.Object
	errs    []error
}

func (r *rendered) fail(format string, args ...interface{}) {
	r.errs = append(r.errs, fmt.Errorf("%s: %s", r.name, fmt.Sprintf(format, args...)))
}

func (r *rendered) byKind(kind string) []*object {
	var out []*object
	for _, o := range r.objects {
		if o.gvk.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

func (r *rendered) find(kind, namespace, name string) *object {
	for _, o := range r.byKind(kind) {
		if o.name == name && o.namespace == namespace {
			return o
		}
	}
	return nil
}

// workload is a Deployment or StatefulSet's pod template.
type workload struct {
	o        *object
	selector *metav1.LabelSelector
	template *corev1.PodTemplateSpec
}

func (r *rendered) workloads() []workload {
	var out []workload
	for _, o := range r.objects {
		switch t := r.typed[o].(type) {
		case *appsv1.Deployment:
			out = append(out, workload{o, t.Spec.Selector, &t.Spec.Template})
		case *appsv1.StatefulSet:
			out = append(out, workload{o, t.Spec.Selector, &t.Spec.Template})
		}
	}
	return out
}

// selects: whether a label selector picks at least one pod template of the namespace.
func (r *rendered) selectsPods(namespace string, selector *metav1.LabelSelector) bool {
	s, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		return false
	}
	for _, w := range r.workloads() {
		if w.o.namespace == namespace && s.Matches(labels.Set(w.template.Labels)) {
			return true
		}
	}
	return false
}

// checkWorkloads: what the API server would refuse (a selector that misses the template,
// a probe on a port the container does not declare, a mount without its volume,
// requests above limits) and what the stack requires of every pod (non-root, read-only
// root, no privilege escalation, no capability, both health probes, requests and limits).
func (r *rendered) checkWorkloads(externalSecrets map[string]bool) {
	for _, w := range r.workloads() {
		o := w.o
		s, err := metav1.LabelSelectorAsSelector(w.selector)
		if err != nil || s.Empty() || !s.Matches(labels.Set(w.template.Labels)) {
			r.fail("%s: the selector does not match the pod template's labels", o)
		}
		pod := &w.template.Spec
		volumes := map[string]bool{}
		for _, v := range pod.Volumes {
			volumes[v.Name] = true
			if v.ConfigMap != nil {
				r.checkRef(o, "ConfigMap", v.ConfigMap.Name, externalSecrets)
			}
			if v.Secret != nil {
				r.checkRef(o, "Secret", v.Secret.SecretName, externalSecrets)
			}
		}
		podNonRoot := pod.SecurityContext != nil && pod.SecurityContext.RunAsNonRoot != nil && *pod.SecurityContext.RunAsNonRoot
		for _, c := range pod.Containers {
			where := fmt.Sprintf("%s container %s", o, c.Name)
			ports := map[string]bool{}
			for _, p := range c.Ports {
				if p.Name != "" {
					if errs := validation.IsValidPortName(p.Name); len(errs) > 0 {
						r.fail("%s: port name %q: %s", where, p.Name, strings.Join(errs, "; "))
					}
					ports[p.Name] = true
				}
				ports[strconv.Itoa(int(p.ContainerPort))] = true
			}
			for _, m := range c.VolumeMounts {
				if !volumes[m.Name] {
					r.fail("%s: mounts %s, which is no volume of the pod", where, m.Name)
				}
			}
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					r.checkRef(o, "Secret", e.ValueFrom.SecretKeyRef.Name, externalSecrets)
				}
				if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
					r.checkRef(o, "ConfigMap", e.ValueFrom.ConfigMapKeyRef.Name, externalSecrets)
				}
			}
			for _, e := range c.EnvFrom {
				if e.SecretRef != nil {
					r.checkRef(o, "Secret", e.SecretRef.Name, externalSecrets)
				}
				if e.ConfigMapRef != nil {
					r.checkRef(o, "ConfigMap", e.ConfigMapRef.Name, externalSecrets)
				}
			}
			sc := c.SecurityContext
			switch {
			case sc == nil:
				r.fail("%s: no securityContext", where)
			default:
				if !podNonRoot && (sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot) {
					r.fail("%s: runAsNonRoot is not set", where)
				}
				if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
					r.fail("%s: readOnlyRootFilesystem is not true", where)
				}
				if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
					r.fail("%s: allowPrivilegeEscalation is not false", where)
				}
				if sc.Capabilities == nil || !reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
					r.fail("%s: capabilities must drop ALL and add none", where)
				}
			}
			for name, probe := range map[string]struct {
				p    *corev1.Probe
				path string
			}{"readiness": {c.ReadinessProbe, "/health/ready"}, "liveness": {c.LivenessProbe, "/health/live"}} {
				if probe.p == nil || probe.p.HTTPGet == nil || probe.p.HTTPGet.Path != probe.path {
					r.fail("%s: no %s probe on %s", where, name, probe.path)
					continue
				}
				if !ports[probe.p.HTTPGet.Port.String()] {
					r.fail("%s: the %s probe's port %s is not a port of the container", where, name, probe.p.HTTPGet.Port.String())
				}
			}
			for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				req, hasReq := c.Resources.Requests[res]
				lim, hasLim := c.Resources.Limits[res]
				if !hasReq || !hasLim {
					r.fail("%s: %s needs a request and a limit", where, res)
				} else if req.Cmp(lim) > 0 {
					r.fail("%s: %s request %s above its limit %s", where, res, req.String(), lim.String())
				}
			}
		}
	}
}

// checkRef: a ConfigMap or Secret a pod uses must be rendered too, or be one Strimzi
// writes (a KafkaUser's password, the cluster CA of a Kafka), or one the operator creates
// (externalSecrets).
func (r *rendered) checkRef(o *object, kind, name string, externalSecrets map[string]bool) {
	if r.find(kind, o.namespace, name) != nil {
		return
	}
	if kind == "Secret" {
		if externalSecrets[name] || r.find("KafkaUser", o.namespace, name) != nil {
			return
		}
		for _, k := range r.byKind("Kafka") {
			if k.namespace == o.namespace && name == k.name+"-cluster-ca-cert" {
				return
			}
		}
	}
	r.fail("%s: uses %s %s, which nothing renders or creates", o, kind, name)
}

// checkSelectors: each Service, PodDisruptionBudget and NetworkPolicy selects pods that
// exist; each ServiceMonitor selects a Service with the port it scrapes.
func (r *rendered) checkSelectors() {
	for _, o := range r.objects {
		switch t := r.typed[o].(type) {
		case *corev1.Service:
			if !r.selectsPods(o.namespace, &metav1.LabelSelector{MatchLabels: t.Spec.Selector}) {
				r.fail("%s: selects no pod", o)
			}
		case *policyv1.PodDisruptionBudget:
			if !r.selectsPods(o.namespace, t.Spec.Selector) {
				r.fail("%s: selects no pod", o)
			}
		case *networkingv1.NetworkPolicy:
			if !r.selectsPods(o.namespace, &t.Spec.PodSelector) {
				r.fail("%s: selects no pod", o)
			}
		}
	}
	for _, o := range r.byKind("ServiceMonitor") {
		selector, err := labelSelectorOf(valueAt(o.raw, "spec", "selector"))
		if err != nil {
			r.fail("%s: %v", o, err)
			continue
		}
		ports := map[string]bool{}
		matched := 0
		for _, s := range r.byKind("Service") {
			if s.namespace == o.namespace && selector.Matches(labels.Set(s.labels)) {
				matched++
				for _, p := range r.typed[s].(*corev1.Service).Spec.Ports {
					ports[p.Name] = true
				}
			}
		}
		if matched == 0 {
			r.fail("%s: selects no Service", o)
		}
		endpoints, _ := valueAt(o.raw, "spec", "endpoints").([]interface{})
		for _, e := range endpoints {
			if port, _ := valueAt(e, "port").(string); !ports[port] {
				r.fail("%s: endpoint port %q is on none of the Services it selects", o, port)
			}
		}
	}
}

func labelSelectorOf(v interface{}) (labels.Selector, error) {
	js, err := jsonOf(v)
	if err != nil {
		return nil, err
	}
	var ls metav1.LabelSelector
	if err := jsonUnmarshalStrict(js, &ls); err != nil {
		return nil, err
	}
	return metav1.LabelSelectorAsSelector(&ls)
}

// topicSpec is one topic as crates/kafka/src/topics.rs makes it.
type topicSpec struct {
	partitions   int64
	retentionMs  int64
	policy       string
	segmentBytes int64
}

// The defaults of TopicsConfig: `name: TopicSpec::new("name", partitions, days)`, maybe
// followed by `.compacted()` and `.segment_bytes(N << 20)`.
var topicLine = regexp.MustCompile(`(?s)\w+: TopicSpec::new\("([a-z-]+)", (\d+), (\d+)\)((?:\s*\.\w+\([^)]*\))*),`)
var segmentCall = regexp.MustCompile(`\.segment_bytes\((\d+) << (\d+)\)`)

// stackTopics reads the topics the services create from topics.rs.
func stackTopics(path string) (map[string]topicSpec, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	start := bytes.Index(data, []byte("impl Default for TopicsConfig"))
	if start < 0 {
		return nil, fmt.Errorf("%s: no `impl Default for TopicsConfig`", path)
	}
	topics := map[string]topicSpec{}
	for _, m := range topicLine.FindAllSubmatch(data[start:], -1) {
		partitions, _ := strconv.ParseInt(string(m[2]), 10, 64)
		days, _ := strconv.ParseInt(string(m[3]), 10, 64)
		spec := topicSpec{partitions: partitions, retentionMs: days * 24 * 3600 * 1000, policy: "delete"}
		calls := string(m[4])
		if strings.Contains(calls, ".compacted()") {
			spec.policy = "compact,delete"
		}
		if s := segmentCall.FindStringSubmatch(calls); s != nil {
			n, _ := strconv.ParseInt(s[1], 10, 64)
			shift, _ := strconv.ParseInt(s[2], 10, 64)
			spec.segmentBytes = n << shift
		}
		topics[string(m[1])] = spec
	}
	// TopicsConfig::all() lists every topic once: as many as it names.
	all := regexp.MustCompile(`pub fn all\(&self\) -> \[&TopicSpec; (\d+)\]`).FindSubmatch(data)
	if all == nil {
		return nil, fmt.Errorf("%s: no TopicsConfig::all", path)
	}
	if want, _ := strconv.Atoi(string(all[1])); want != len(topics) {
		return nil, fmt.Errorf("%s: read %d topics from TopicsConfig::default, TopicsConfig::all has %d: the reader needs updating", path, len(topics), want)
	}
	return topics, nil
}

// checkTopics: the KafkaTopics are exactly the stack's topics, with their partitions,
// retention, cleanup policy and segment size.
func (r *rendered) checkTopics(stack map[string]topicSpec) {
	seen := map[string]bool{}
	for _, o := range r.byKind("KafkaTopic") {
		name := o.name
		if n, ok := valueAt(o.raw, "spec", "topicName").(string); ok {
			name = n
		}
		seen[name] = true
		want, ok := stack[name]
		if !ok {
			r.fail("%s: %s is no topic of the stack (crates/kafka/src/topics.rs)", o, name)
			continue
		}
		got := topicSpec{
			partitions:   toInt(valueAt(o.raw, "spec", "partitions")),
			retentionMs:  toInt(valueAt(o.raw, "spec", "config", "retention.ms")),
			segmentBytes: toInt(valueAt(o.raw, "spec", "config", "segment.bytes")),
		}
		got.policy, _ = valueAt(o.raw, "spec", "config", "cleanup.policy").(string)
		if got != want {
			r.fail("%s: partitions %d, retention.ms %d, cleanup.policy %q, segment.bytes %d; the stack needs %d, %d, %q, %d",
				o, got.partitions, got.retentionMs, got.policy, got.segmentBytes,
				want.partitions, want.retentionMs, want.policy, want.segmentBytes)
		}
	}
	for name := range stack {
		if !seen[name] {
			r.fail("no KafkaTopic for the stack's topic %s", name)
		}
	}
}

func toInt(v interface{}) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	case string:
		i, _ := strconv.ParseInt(n, 10, 64)
		return i
	}
	return 0
}

// kafkaScalerMetadata: the trigger metadata names KEDA's kafka scaler reads, from the
// `keda:"name=...,order=..."` tags of pkg/scalers/kafka_scaler.go in KEDA's module.
func kafkaScalerMetadata(path string) (map[string]bool, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, m := range regexp.MustCompile(`keda:"name=(\w+),order=([\w;]+)`).FindAllSubmatch(data, -1) {
		if strings.Contains(string(m[2]), "triggerMetadata") {
			names[string(m[1])] = true
		}
	}
	if !names["bootstrapServers"] || !names["consumerGroup"] {
		return nil, fmt.Errorf("%s: found no kafka trigger metadata names", path)
	}
	return names, nil
}

// checkScaling: every ScaledObject scales a rendered workload, authenticates with a
// rendered TriggerAuthentication, reads a rendered topic with metadata KEDA knows, and
// stops at the partition count of its inputs (a replica beyond it would get no partition).
func (r *rendered) checkScaling(kafkaMetadata map[string]bool) {
	for _, o := range r.byKind("ScaledObject") {
		kind, _ := valueAt(o.raw, "spec", "scaleTargetRef", "kind").(string)
		target, _ := valueAt(o.raw, "spec", "scaleTargetRef", "name").(string)
		if kind == "" {
			kind = "Deployment"
		}
		if r.find(kind, o.namespace, target) == nil {
			r.fail("%s: scales %s %s, which is not rendered", o, kind, target)
		}
		triggers, _ := valueAt(o.raw, "spec", "triggers").([]interface{})
		partitions := int64(0)
		for i, t := range triggers {
			if typ, _ := valueAt(t, "type").(string); typ != "kafka" {
				continue
			}
			if auth, _ := valueAt(t, "authenticationRef", "name").(string); r.find("TriggerAuthentication", o.namespace, auth) == nil {
				r.fail("%s: trigger %d: TriggerAuthentication %q is not rendered", o, i, auth)
			}
			metadata, _ := valueAt(t, "metadata").(map[string]interface{})
			for key := range metadata {
				if !kafkaMetadata[key] {
					r.fail("%s: trigger %d: %q is no metadata of KEDA's kafka scaler", o, i, key)
				}
			}
			servers, _ := metadata["bootstrapServers"].(string)
			for _, server := range strings.Split(servers, ",") {
				kafka, listener := r.bootstrapListener(o.namespace, server)
				if listener == nil {
					r.fail("%s: trigger %d: %q is no bootstrap address of a rendered Kafka listener", o, i, server)
					continue
				}
				tls, _ := listener["tls"].(bool)
				auth, _ := valueAt(listener, "authentication", "type").(string)
				if (metadata["tls"] == "enable") != tls || (metadata["sasl"] == "scram_sha512") != (auth == "scram-sha-512") {
					r.fail("%s: trigger %d: tls %v and sasl %v do not match listener %v of Kafka %s", o, i, metadata["tls"], metadata["sasl"], listener["name"], kafka.name)
				}
			}
			topic, _ := metadata["topic"].(string)
			kt := r.find("KafkaTopic", o.namespace, topic)
			if kt == nil {
				r.fail("%s: trigger %d: topic %q is no KafkaTopic", o, i, topic)
				continue
			}
			if p := toInt(valueAt(kt.raw, "spec", "partitions")); p > partitions {
				partitions = p
			}
		}
		if max := toInt(valueAt(o.raw, "spec", "maxReplicaCount")); partitions > 0 && max != partitions {
			r.fail("%s: maxReplicaCount %d, but its inputs have %d partitions", o, max, partitions)
		}
	}
}

// checkRules: the PrometheusRules are exactly the rules files, group for group.
func (r *rendered) checkRules(s *sources) {
	want := map[string]interface{}{}
	for _, path := range s.rules {
		groups, err := ruleGroups(path)
		if err != nil {
			r.fail("%v", err)
			continue
		}
		want[s.rel(path)] = groups
	}
	got := map[string]bool{}
	for _, o := range r.byKind("PrometheusRule") {
		source, _ := valueAt(o.raw, "metadata", "annotations", sourceAnnotation).(string)
		groups, ok := want[source]
		if !ok {
			r.fail("%s: names %q, which is no file of %s", o, source, filepath.Dir(s.rel(s.rules[0])))
			continue
		}
		got[source] = true
		if !sameJSON(valueAt(o.raw, "spec", "groups"), groups) {
			r.fail("%s: its groups differ from %s (run `make k8s-generate`)", o, source)
		}
	}
	for source := range want {
		if !got[source] {
			r.fail("no PrometheusRule carries %s (run `make k8s-generate`)", source)
		}
	}
}

// checkDashboards: one ConfigMap for the dashboard sidecar per dashboard file, with the
// file's bytes.
func (r *rendered) checkDashboards(s *sources) {
	want := map[string][]byte{}
	for _, path := range s.dashboards {
		data, err := readFile(path)
		if err != nil {
			r.fail("%v", err)
			continue
		}
		want[filepath.Base(path)] = data
	}
	got := map[string]bool{}
	for _, o := range r.byKind("ConfigMap") {
		if o.labels[dashboardLabel] != "1" {
			continue
		}
		data, _ := valueAt(o.raw, "data").(map[string]interface{})
		for key, value := range data {
			text, _ := value.(string)
			if w, ok := want[key]; !ok {
				r.fail("%s: %s is no file of grafana/dashboards", o, key)
			} else if text != string(w) {
				r.fail("%s: %s differs from grafana/dashboards/%s (run `make k8s-generate`)", o, key, key)
			}
			got[key] = true
		}
	}
	for key := range want {
		if !got[key] {
			r.fail("no dashboard ConfigMap holds grafana/dashboards/%s (run `make k8s-generate`)", key)
		}
	}
}

func sameJSON(a, b interface{}) bool {
	ja, errA := jsonMarshal(normalize(a))
	jb, errB := jsonMarshal(normalize(b))
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// normalize: numbers as float64, whatever decoded them.
func normalize(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		out := make(map[string]interface{}, len(t))
		for k, x := range t {
			out[k] = normalize(x)
		}
		return out
	case []interface{}:
		out := make([]interface{}, len(t))
		for i, x := range t {
			out[i] = normalize(x)
		}
		return out
	case int64:
		return float64(t)
	case int:
		return float64(t)
	}
	return v
}

// sortedErrors: the errors in a stable order.
func sortedErrors(errs []error) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
	}
	sort.Strings(out)
	return out
}
