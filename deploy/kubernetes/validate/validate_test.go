package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	"sigs.k8s.io/yaml"
)

// The tests run on what scripts/k8s-check.sh prepared: the rendered dev overlay and the
// CRDs. Without them they fail: a check that cannot run is no pass.
func testConfig(t *testing.T) (*config, []byte) {
	t.Helper()
	env := map[string]string{}
	for _, name := range []string{"K8S_CHECK_REPO", "K8S_CHECK_RENDERED", "K8S_CHECK_CRDS", "K8S_CHECK_KEDA_SCALER"} {
		env[name] = os.Getenv(name)
		if env[name] == "" {
			t.Fatalf("%s is not set: run the tests through scripts/k8s-check.sh", name)
		}
	}
	cfg, err := loadConfig(env["K8S_CHECK_REPO"], strings.Split(env["K8S_CHECK_CRDS"], ","), env["K8S_CHECK_KEDA_SCALER"], "obs-api-keys")
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := os.ReadFile(env["K8S_CHECK_RENDERED"])
	if err != nil {
		t.Fatal(err)
	}
	return cfg, rendered
}

func TestTheRenderedOverlayPasses(t *testing.T) {
	cfg, rendered := testConfig(t)
	objects, err := parseObjects("dev.yaml", bytes.NewReader(rendered))
	if err != nil {
		t.Fatal(err)
	}
	if errs := checkRendered("dev.yaml", objects, cfg); len(errs) > 0 {
		t.Fatalf("problems in the unchanged overlay: %v", errs)
	}
}

type brokenCase struct {
	Name   string `json:"name"`
	Target *struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
	} `json:"target"`
	Patch json.RawMessage `json:"patch"`
	Add   string          `json:"add"`
	Want  []string        `json:"want"`
}

func TestBrokenManifestsAreRejected(t *testing.T) {
	cfg, rendered := testConfig(t)
	data, err := os.ReadFile(filepath.Join("testdata", "broken-manifests.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []brokenCase
	if err := yaml.UnmarshalStrict(data, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("no case")
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			if len(c.Want) == 0 {
				t.Fatal("a case wants at least one message")
			}
			stream, err := breakStream(rendered, c)
			if err != nil {
				t.Fatal(err)
			}
			var problems []string
			objects, err := parseObjects("broken.yaml", bytes.NewReader(stream))
			if err != nil {
				problems = []string{err.Error()}
			} else {
				for _, e := range checkRendered("broken.yaml", objects, cfg) {
					problems = append(problems, e.Error())
				}
			}
			if len(problems) == 0 {
				t.Fatalf("accepted")
			}
			all := strings.Join(problems, "\n")
			for _, want := range c.Want {
				if !strings.Contains(all, want) {
					t.Errorf("no problem says %q; the problems:\n%s", want, all)
				}
			}
		})
	}
}

// breakStream applies a case to the rendered stream: its patch to the target (which must
// exist once), its documents at the end.
func breakStream(rendered []byte, c brokenCase) ([]byte, error) {
	docs := bytes.Split(rendered, []byte("\n---\n"))
	if c.Target != nil {
		hits := 0
		for i, doc := range docs {
			js, err := yaml.YAMLToJSON(doc)
			if err != nil {
				return nil, err
			}
			var head struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := json.Unmarshal(js, &head); err != nil {
				return nil, err
			}
			if head.Kind != c.Target.Kind || !sameName(head.Metadata.Name, c.Target.Name) {
				continue
			}
			hits++
			patch, err := jsonpatch.DecodePatch(c.Patch)
			if err != nil {
				return nil, err
			}
			patched, err := patch.Apply(js)
			if err != nil {
				return nil, fmt.Errorf("patching %s %s: %w", c.Target.Kind, c.Target.Name, err)
			}
			if docs[i], err = yaml.JSONToYAML(patched); err != nil {
				return nil, err
			}
		}
		if hits != 1 {
			return nil, fmt.Errorf("%s %s found %d times in the overlay", c.Target.Kind, c.Target.Name, hits)
		}
	}
	if c.Add != "" {
		docs = append(docs, []byte(c.Add))
	}
	return bytes.Join(docs, []byte("\n---\n")), nil
}

// sameName: the name, or the name with the hash suffix Kustomize gives generated
// ConfigMaps (<name>-<10 characters>).
func sameName(rendered, name string) bool {
	suffix, ok := strings.CutPrefix(rendered, name+"-")
	return rendered == name || (ok && len(suffix) == 10 && !strings.Contains(suffix, "-"))
}

func TestTopicsAreReadFromTopicsRs(t *testing.T) {
	repo := os.Getenv("K8S_CHECK_REPO")
	if repo == "" {
		t.Fatal("K8S_CHECK_REPO is not set: run the tests through scripts/k8s-check.sh")
	}
	topics, err := stackTopics(filepath.Join(repo, "crates", "kafka", "src", "topics.rs"))
	if err != nil {
		t.Fatal(err)
	}
	day := int64(24 * 3600 * 1000)
	for name, want := range map[string]topicSpec{
		"raw-logs":            {partitions: 3, retentionMs: 7 * day, policy: "delete"},
		"alerts":              {partitions: 1, retentionMs: day, policy: "delete"},
		"incidents":           {partitions: 3, retentionMs: 30 * day, policy: "compact,delete"},
		"detector-state":      {partitions: 3, retentionMs: 30 * day, policy: "compact,delete", segmentBytes: 16 << 20},
		"app-log-rate-state":  {partitions: 3, retentionMs: 30 * day, policy: "compact,delete", segmentBytes: 16 << 20},
		"dead-letter-replays": {partitions: 1, retentionMs: 30 * day, policy: "compact,delete"},
	} {
		if got := topics[name]; got != want {
			t.Errorf("%s: read %+v, want %+v", name, got, want)
		}
	}
	if len(topics) != 14 {
		t.Errorf("read %d topics, want 14", len(topics))
	}
}

// The compose broker's files against the KafkaUsers and topics.rs: a difference either
// way is reported.
func TestComposeBrokerDifferencesAreRejected(t *testing.T) {
	cfg, rendered := testConfig(t)
	objects, err := parseObjects("dev.yaml", bytes.NewReader(rendered))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		change func(c *config)
		want   string
	}{
		{"a compose user without KafkaUser", func(c *config) {
			c.composeACLs["reporting"] = map[grant]bool{{"topic", "literal", "alerts", "Read"}: true}
		}, "deploy/kafka/compose/acls grants reporting, which has no KafkaUser"},
		{"a topic with other partitions", func(c *config) {
			spec := c.composeTopics["alerts"]
			spec.partitions = 3
			c.composeTopics["alerts"] = spec
		}, "deploy/kafka/compose/topics: alerts has partitions 3"},
		{"a topic missing", func(c *config) { delete(c.composeTopics, "incidents") },
			"deploy/kafka/compose/topics lacks the stack's topic incidents"},
		{"a topic too many", func(c *config) { c.composeTopics["extra"] = topicSpec{partitions: 1} },
			"deploy/kafka/compose/topics: extra is no topic of the stack"},
	} {
		t.Run(c.name, func(t *testing.T) {
			broken := *cfg
			broken.composeACLs = map[string]map[grant]bool{}
			for user, grants := range cfg.composeACLs {
				broken.composeACLs[user] = grants
			}
			broken.composeTopics = map[string]topicSpec{}
			for name, spec := range cfg.composeTopics {
				broken.composeTopics[name] = spec
			}
			c.change(&broken)
			var all []string
			for _, e := range checkRendered("dev.yaml", objects, &broken) {
				all = append(all, e.Error())
			}
			if !strings.Contains(strings.Join(all, "\n"), c.want) {
				t.Errorf("no problem says %q; the problems:\n%s", c.want, strings.Join(all, "\n"))
			}
		})
	}
}

func TestComposeFilesAreRead(t *testing.T) {
	repo := os.Getenv("K8S_CHECK_REPO")
	if repo == "" {
		t.Fatal("K8S_CHECK_REPO is not set: run the tests through scripts/k8s-check.sh")
	}
	acls, err := composeACLs(filepath.Join(repo, composeACLsFile))
	if err != nil {
		t.Fatal(err)
	}
	for user, want := range map[string]grant{
		"ingestion":       {"topic", "literal", "raw-logs", "Write"},
		"standardization": {"transactionalId", "prefix", "standardization-", "Write"},
		"processing":      {"group", "prefix", "processing", "Read"},
		"kafka-ui":        {"cluster", "literal", "kafka-cluster", "DescribeConfigs"},
	} {
		if !acls[user][want] {
			t.Errorf("%s: %s not read", user, want)
		}
	}
	topics, err := composeTopics(filepath.Join(repo, composeTopicsFile))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := topics["detector-state"], (topicSpec{3, 30 * 24 * 3600 * 1000, "compact,delete", 16 << 20}); got != want {
		t.Errorf("detector-state: read %+v, want %+v", got, want)
	}
}
