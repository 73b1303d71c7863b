// k8s-validate: the offline checks of deploy/kubernetes, run by scripts/k8s-check.sh.
//
//	k8s-validate generate [-check] -repo DIR
//	    writes (or, with -check, compares) deploy/kubernetes/base/monitoring/generated/ from
//	    prometheus/rules/*.yml and grafana/dashboards/*.json
//	k8s-validate check -repo DIR -crds DIR[,DIR...] -keda-kafka-scaler FILE RENDERED.yaml...
//	    checks each rendered overlay: every built-in object decodes strictly into the
//	    k8s.io/api types of the pinned release, every custom resource validates against its
//	    CRD as the API server would, an unknown kind is an error; then the stack's own
//	    rules (checks.go)
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	sigsjson "sigs.k8s.io/json"
)

// config is what a check needs besides the rendered objects.
type config struct {
	crds            crdSet
	sources         *sources
	topics          map[string]topicSpec
	composeACLs     map[string]map[grant]bool
	composeTopics   map[string]topicSpec
	kafkaMetadata   map[string]bool
	externalSecrets map[string]bool
	// configKeys: the keys the README documents, which the services' files may use.
	configKeys []*regexp.Regexp
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "generate":
		err = runGenerate(os.Args[2:])
	case "check":
		err = runCheck(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "k8s-validate:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: k8s-validate generate [-check] -repo DIR | check -repo DIR -crds DIRS -keda-kafka-scaler FILE RENDERED.yaml...")
	os.Exit(2)
}

func repoSources(repo string) (*sources, error) {
	return findSources(repo, filepath.Join(repo, "prometheus", "rules"), filepath.Join(repo, "grafana", "dashboards"))
}

func generatedDir(repo string) string {
	return filepath.Join(repo, "deploy", "kubernetes", "base", "monitoring", "generated")
}

func runGenerate(args []string) error {
	flags := flag.NewFlagSet("generate", flag.ExitOnError)
	repo := flags.String("repo", ".", "the repository")
	check := flags.Bool("check", false, "compare instead of writing")
	flags.Parse(args)
	s, err := repoSources(*repo)
	if err != nil {
		return err
	}
	return generate(s, generatedDir(*repo), *check)
}

func runCheck(args []string) error {
	flags := flag.NewFlagSet("check", flag.ExitOnError)
	repo := flags.String("repo", ".", "the repository")
	crds := flags.String("crds", "", "directories of CRD files, comma-separated")
	scaler := flags.String("keda-kafka-scaler", "", "pkg/scalers/kafka_scaler.go of KEDA's module")
	external := flags.String("external-secrets", "obs-api-keys", "Secrets the operator creates, comma-separated")
	flags.Parse(args)
	if *crds == "" || *scaler == "" || flags.NArg() == 0 {
		usage()
	}
	cfg, err := loadConfig(*repo, strings.Split(*crds, ","), *scaler, *external)
	if err != nil {
		return err
	}
	failed := 0
	for _, path := range flags.Args() {
		objects, err := readObjects(path)
		if err != nil {
			return err
		}
		errs := checkRendered(path, objects, cfg)
		for _, e := range errs {
			fmt.Fprintln(os.Stderr, "FAIL", e)
		}
		if len(errs) > 0 {
			failed++
		}
		fmt.Printf("%s: %d objects, %d problems\n", path, len(objects), len(errs))
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d rendered overlays have problems", failed, flags.NArg())
	}
	return nil
}

func loadConfig(repo string, crdDirs []string, scaler, external string) (*config, error) {
	crds, err := loadCRDs(crdDirs)
	if err != nil {
		return nil, err
	}
	s, err := repoSources(repo)
	if err != nil {
		return nil, err
	}
	topics, err := stackTopics(filepath.Join(repo, "crates", "kafka", "src", "topics.rs"))
	if err != nil {
		return nil, err
	}
	acls, err := composeACLs(filepath.Join(repo, composeACLsFile))
	if err != nil {
		return nil, err
	}
	brokerTopics, err := composeTopics(filepath.Join(repo, composeTopicsFile))
	if err != nil {
		return nil, err
	}
	kafkaMetadata, err := kafkaScalerMetadata(scaler)
	if err != nil {
		return nil, err
	}
	keys, err := configKeys(filepath.Join(repo, "README.md"))
	if err != nil {
		return nil, err
	}
	secrets := map[string]bool{}
	for _, name := range strings.Split(external, ",") {
		if name != "" {
			secrets[name] = true
		}
	}
	return &config{crds: crds, sources: s, topics: topics, composeACLs: acls, composeTopics: brokerTopics,
		kafkaMetadata: kafkaMetadata, externalSecrets: secrets, configKeys: keys}, nil
}

// checkRendered checks one rendered overlay and returns every problem found.
func checkRendered(name string, objects []*object, cfg *config) []error {
	r := &rendered{name: name, objects: objects, typed: map[*object]runtime.Object{}}
	seen := map[string]*object{}
	for _, o := range objects {
		key := o.gvk.GroupKind().String() + " " + o.namespace + "/" + o.name
		if first, ok := seen[key]; ok {
			r.fail("%s: also rendered as %s", o, first.where)
		}
		seen[key] = o
		if v, ok := cfg.crds[o.gvk]; ok {
			r.errs = append(r.errs, validateCustom(o, v)...)
			continue
		}
		typed, errs := decodeBuiltin(o)
		r.errs = append(r.errs, errs...)
		if typed != nil {
			r.typed[o] = typed
		}
	}
	r.checkWorkloads(cfg.externalSecrets)
	r.checkSelectors()
	r.checkServiceConfigs(cfg.configKeys)
	r.checkTopics(cfg.topics)
	r.checkComposeACLs(cfg.composeACLs)
	r.checkComposeTopics(cfg.composeTopics, cfg.topics)
	r.checkScaling(cfg.kafkaMetadata)
	r.checkRules(cfg.sources)
	r.checkDashboards(cfg.sources)
	var errs []error
	for _, e := range sortedErrors(r.errs) {
		errs = append(errs, fmt.Errorf("%s", e))
	}
	return errs
}

// jsonUnmarshalStrict: unknown and duplicate fields are errors.
func jsonUnmarshalStrict(data []byte, v interface{}) error {
	strict, err := sigsjson.UnmarshalStrict(data, v)
	if err != nil {
		return err
	}
	if len(strict) > 0 {
		return fmt.Errorf("%v", strict)
	}
	return nil
}
