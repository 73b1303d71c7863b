package main

// The compose broker (deploy/kafka/compose) against the Kubernetes one: its ACLs (acls)
// grant each service exactly what the service's KafkaUser grants, and its topics (topics)
// are those of topics.rs. Two deployments, one set of rights.

import (
	"bufio"
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// grant is one operation on one resource pattern, in the KafkaUser's vocabulary.
type grant struct {
	resourceType, patternType, name, operation string
}

func (g grant) String() string {
	return fmt.Sprintf("%s on %s %s (%s)", g.operation, g.resourceType, g.name, g.patternType)
}

// Users that exist in one deployment only: Kafka UI runs in compose only, KEDA in
// Kubernetes only.
var (
	composeOnlyUsers    = map[string]bool{"kafka-ui": true}
	kubernetesOnlyUsers = map[string]bool{"keda-lag-reader": true}
)

const (
	composeACLsFile   = "deploy/kafka/compose/acls"
	composeTopicsFile = "deploy/kafka/compose/topics"
)

// composeACLs reads the compose broker's grants, by user: lines of
// `USER RESOURCE PATTERN OPERATION,... NAME...`, `#` starting a comment (as start.sh reads them).
func composeACLs(path string) (map[string]map[grant]bool, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	users := map[string]map[grant]bool{}
	scanner := bufio.NewScanner(bytes.NewReader(data))
	for number := 1; scanner.Scan(); number++ {
		line, _, _ := strings.Cut(scanner.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) < 5 {
			return nil, fmt.Errorf("%s:%d: USER RESOURCE PATTERN OPERATIONS NAME... expected", path, number)
		}
		user, resource, pattern := fields[0], fields[1], fields[2]
		switch resource {
		case "topic", "group", "transactionalId", "cluster":
		default:
			return nil, fmt.Errorf("%s:%d: unknown resource %q", path, number, resource)
		}
		if pattern != "literal" && pattern != "prefix" {
			return nil, fmt.Errorf("%s:%d: unknown pattern %q", path, number, pattern)
		}
		if users[user] == nil {
			users[user] = map[grant]bool{}
		}
		for _, name := range fields[4:] {
			for _, operation := range strings.Split(fields[3], ",") {
				users[user][grant{resource, pattern, name, operation}] = true
			}
		}
	}
	return users, scanner.Err()
}

// kafkaUserGrants: the allow ACLs of a KafkaUser (simple authorization), as grants. A deny
// rule or a host other than * has no counterpart in the compose file: reported.
func (r *rendered) kafkaUserGrants(o *object) map[grant]bool {
	grants := map[grant]bool{}
	acls, _ := valueAt(o.raw, "spec", "authorization", "acls").([]interface{})
	for i, acl := range acls {
		if kind, _ := valueAt(acl, "type").(string); kind != "" && kind != "allow" {
			r.fail("%s: acls[%d] is a %s rule; the compose broker grants only", o, i, kind)
		}
		if host, _ := valueAt(acl, "host").(string); host != "" && host != "*" {
			r.fail("%s: acls[%d] is limited to host %s; the compose broker's grants are not", o, i, host)
		}
		resource, _ := valueAt(acl, "resource", "type").(string)
		name, _ := valueAt(acl, "resource", "name").(string)
		pattern, _ := valueAt(acl, "resource", "patternType").(string)
		if pattern == "" {
			pattern = "literal"
		}
		if resource == "cluster" {
			name = "kafka-cluster"
		}
		var operations []string
		if list, ok := valueAt(acl, "operations").([]interface{}); ok {
			for _, op := range list {
				if s, ok := op.(string); ok {
					operations = append(operations, s)
				}
			}
		}
		if op, ok := valueAt(acl, "operation").(string); ok {
			operations = append(operations, op)
		}
		for _, op := range operations {
			grants[grant{resource, pattern, name, op}] = true
		}
	}
	return grants
}

// checkComposeACLs: every KafkaUser grants what the compose file grants its namesake, no
// more, no less; a user of one side only is one of the named exceptions.
func (r *rendered) checkComposeACLs(compose map[string]map[grant]bool) {
	seen := map[string]bool{}
	for _, o := range r.byKind("KafkaUser") {
		seen[o.name] = true
		want, ok := compose[o.name]
		if !ok {
			if !kubernetesOnlyUsers[o.name] {
				r.fail("%s: %s grants nothing to %s", o, composeACLsFile, o.name)
			}
			continue
		}
		got := r.kafkaUserGrants(o)
		for _, g := range sortedGrants(got) {
			if !want[g] {
				r.fail("%s: grants %s, which %s does not grant %s", o, g, composeACLsFile, o.name)
			}
		}
		for _, g := range sortedGrants(want) {
			if !got[g] {
				r.fail("%s: lacks %s, which %s grants %s", o, g, composeACLsFile, o.name)
			}
		}
	}
	for user := range compose {
		if !seen[user] && !composeOnlyUsers[user] {
			r.fail("%s grants %s, which has no KafkaUser", composeACLsFile, user)
		}
	}
}

func sortedGrants(set map[grant]bool) []grant {
	var list []grant
	for g := range set {
		list = append(list, g)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].String() < list[j].String() })
	return list
}

// composeTopics reads the topics start.sh creates: lines of
// `NAME PARTITIONS RETENTION_MS CLEANUP_POLICY [SEGMENT_BYTES]`.
func composeTopics(path string) (map[string]topicSpec, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	topics := map[string]topicSpec{}
	scanner := bufio.NewScanner(bytes.NewReader(data))
	for number := 1; scanner.Scan(); number++ {
		line, _, _ := strings.Cut(scanner.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 4 && len(fields) != 5 {
			return nil, fmt.Errorf("%s:%d: NAME PARTITIONS RETENTION_MS CLEANUP_POLICY [SEGMENT_BYTES] expected", path, number)
		}
		segment := "0"
		if len(fields) == 5 {
			segment = fields[4]
		}
		var numbers [3]int64
		for i, field := range []string{fields[1], fields[2], segment} {
			if numbers[i], err = strconv.ParseInt(field, 10, 64); err != nil {
				return nil, fmt.Errorf("%s:%d: %q is no number", path, number, field)
			}
		}
		topics[fields[0]] = topicSpec{partitions: numbers[0], retentionMs: numbers[1], policy: fields[3], segmentBytes: numbers[2]}
	}
	return topics, scanner.Err()
}

// checkComposeTopics: the compose broker's topics are the stack's, as topics.rs makes them.
func (r *rendered) checkComposeTopics(compose, stack map[string]topicSpec) {
	for name, want := range stack {
		got, ok := compose[name]
		if !ok {
			r.fail("%s lacks the stack's topic %s", composeTopicsFile, name)
		} else if got != want {
			r.fail("%s: %s has partitions %d, retention.ms %d, cleanup.policy %q, segment.bytes %d; the stack needs %d, %d, %q, %d",
				composeTopicsFile, name, got.partitions, got.retentionMs, got.policy, got.segmentBytes,
				want.partitions, want.retentionMs, want.policy, want.segmentBytes)
		}
	}
	for name := range compose {
		if _, ok := stack[name]; !ok {
			r.fail("%s: %s is no topic of the stack (crates/kafka/src/topics.rs)", composeTopicsFile, name)
		}
	}
}
