package main

import (
	"bufio"
	"bytes"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	corev1 "k8s.io/api/core/v1"
)

// configKeys reads the keys the README's configuration tables document (the `key`
// column): `a.b`, `.c` after it (= `a.c`), `a.{b, c}`, `a.<x>.b` and `a.*` as patterns.
func configKeys(readme string) ([]*regexp.Regexp, error) {
	data, err := readFile(readme)
	if err != nil {
		return nil, err
	}
	var keys []*regexp.Regexp
	inSection := false
	scanner := bufio.NewScanner(bytes.NewReader(data))
	for scanner.Scan() {
		line := scanner.Text()
		if strings.HasPrefix(line, "## ") {
			inSection = line == "## Configuration"
			continue
		}
		cells := strings.Split(line, "|")
		if !inSection || len(cells) < 4 {
			continue
		}
		previous := ""
		for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(cells[2], -1) {
			key := m[1]
			if strings.HasPrefix(key, ".") && previous != "" {
				key = previous[:strings.LastIndex(previous, ".")] + key
			}
			previous = key
			for _, k := range expandBraces(key) {
				pattern := regexp.QuoteMeta(k)
				pattern = regexp.MustCompile(`<[^>]+>`).ReplaceAllString(pattern, `[a-z_]+`)
				pattern = strings.ReplaceAll(pattern, `\*`, `.+`)
				keys = append(keys, regexp.MustCompile("^"+pattern+"$"))
			}
		}
	}
	if len(keys) < 20 {
		return nil, fmt.Errorf("%s: found only %d keys in the tables of ## Configuration", readme, len(keys))
	}
	return keys, nil
}

func expandBraces(key string) []string {
	open, end := strings.Index(key, "{"), strings.Index(key, "}")
	if open < 0 || end < open {
		return []string{key}
	}
	var out []string
	for _, alt := range strings.Split(key[open+1:end], ",") {
		out = append(out, key[:open]+strings.TrimSpace(alt)+key[end+1:])
	}
	return out
}

// checkServiceConfigs reads each service's config file where its pod reads it
// (OBS_CONFIG_FILE in a mounted ConfigMap) and checks: every key is one the README
// documents (a service refuses unknown keys at start); the Kafka address is the bootstrap
// Service and port of a rendered Kafka listener whose TLS and authentication match the
// protocol and mechanism; the SCRAM user is a rendered KafkaUser and the password the pod
// gets is that user's; the CA file is the Kafka's cluster CA as the pod mounts it; the
// listen port is the container's.
func (r *rendered) checkServiceConfigs(documented []*regexp.Regexp) {
	for _, w := range r.workloads() {
		for _, c := range w.template.Spec.Containers {
			file := envValue(c, "OBS_CONFIG_FILE")
			if file == "" {
				r.fail("%s container %s: no OBS_CONFIG_FILE: the service would run on its defaults", w.o, c.Name)
				continue
			}
			where := fmt.Sprintf("%s container %s: %s", w.o, c.Name, file)
			text, ok := r.mountedConfig(w, c, file)
			if !ok {
				r.fail("%s: no mounted ConfigMap holds it", where)
				continue
			}
			var cfg map[string]interface{}
			meta, err := toml.Decode(text, &cfg)
			if err != nil {
				r.fail("%s: %v", where, err)
				continue
			}
			for _, key := range meta.Keys() {
				if meta.Type(key...) == "Hash" || (len(key) > 2 && key[0] == "kafka" && key[1] == "properties") {
					continue
				}
				if !anyMatch(documented, strings.Join(key, ".")) {
					r.fail("%s: %s is no key of the README's configuration tables", where, strings.Join(key, "."))
				}
			}
			r.checkKafkaClient(w, c, where, cfg)
			if listen, _ := valueAt(cfg, "http", "listen").(string); listen != "" {
				port := listen[strings.LastIndex(listen, ":")+1:]
				if !containerHasPort(c, port) {
					r.fail("%s: listens on %s, no port of the container", where, listen)
				}
			}
		}
	}
}

func (r *rendered) checkKafkaClient(w workload, c corev1.Container, where string, cfg map[string]interface{}) {
	str := func(k string) string { s, _ := valueAt(cfg, "kafka", k).(string); return s }
	servers := str("bootstrap_servers")
	if servers == "" {
		r.fail("%s: no kafka.bootstrap_servers", where)
		return
	}
	for _, server := range strings.Split(servers, ",") {
		kafka, listener := r.bootstrapListener(w.o.namespace, server)
		if listener == nil {
			r.fail("%s: %s is no bootstrap address of a rendered Kafka listener", where, server)
			continue
		}
		tls, _ := listener["tls"].(bool)
		protocol := strings.ToLower(str("security_protocol"))
		if tls != (protocol == "ssl" || protocol == "sasl_ssl") {
			r.fail("%s: security_protocol %q on listener %v of Kafka %s (tls: %v)", where, protocol, listener["name"], kafka.name, tls)
		}
		auth, _ := valueAt(listener, "authentication", "type").(string)
		mechanism := str("sasl_mechanism")
		if (auth == "scram-sha-512") != (mechanism == "SCRAM-SHA-512") {
			r.fail("%s: sasl_mechanism %q on listener %v of Kafka %s (authentication %q)", where, mechanism, listener["name"], kafka.name, auth)
		}
		if ca := str("ssl_ca_location"); tls && !r.mountsSecretFile(w, c, ca, kafka.name+"-cluster-ca-cert", "ca.crt") {
			r.fail("%s: ssl_ca_location %q is not the cluster CA of Kafka %s as the pod mounts it", where, ca, kafka.name)
		}
	}
	if user := str("sasl_username"); user != "" {
		if r.find("KafkaUser", w.o.namespace, user) == nil {
			r.fail("%s: SCRAM user %s is no rendered KafkaUser", where, user)
		}
		if password := passwordSecret(c); password != user {
			r.fail("%s: SCRAM user %s, but KAFKA_SASL_PASSWORD comes from Secret %q", where, user, password)
		}
	}
}

// bootstrapListener: the Kafka and listener whose bootstrap Service is host:port
// (<kafka>-kafka-bootstrap, maybe with .<namespace>.svc...).
func (r *rendered) bootstrapListener(namespace, server string) (*object, map[string]interface{}) {
	host, port, ok := strings.Cut(strings.TrimSpace(server), ":")
	if !ok {
		return nil, nil
	}
	for _, k := range r.byKind("Kafka") {
		service := k.name + "-kafka-bootstrap"
		if host != service && host != service+"."+k.namespace && !strings.HasPrefix(host, service+"."+k.namespace+".svc") {
			continue
		}
		if k.namespace != namespace && host == service {
			continue
		}
		listeners, _ := valueAt(k.raw, "spec", "kafka", "listeners").([]interface{})
		for _, l := range listeners {
			listener, _ := l.(map[string]interface{})
			if strconv.FormatInt(toInt(listener["port"]), 10) == port {
				return k, listener
			}
		}
	}
	return nil, nil
}

// mountedConfig: the content of file as the container sees it, from a ConfigMap volume.
func (r *rendered) mountedConfig(w workload, c corev1.Container, file string) (string, bool) {
	for _, m := range c.VolumeMounts {
		if path.Dir(file) != path.Clean(m.MountPath) {
			continue
		}
		for _, v := range w.template.Spec.Volumes {
			if v.Name != m.Name || v.ConfigMap == nil {
				continue
			}
			if cm := r.find("ConfigMap", w.o.namespace, v.ConfigMap.Name); cm != nil {
				text, ok := valueAt(cm.raw, "data", path.Base(file)).(string)
				return text, ok
			}
		}
	}
	return "", false
}

// mountsSecretFile: file is key of Secret secret as the container mounts it.
func (r *rendered) mountsSecretFile(w workload, c corev1.Container, file, secret, key string) bool {
	for _, m := range c.VolumeMounts {
		if path.Dir(file) != path.Clean(m.MountPath) {
			continue
		}
		for _, v := range w.template.Spec.Volumes {
			if v.Name != m.Name || v.Secret == nil || v.Secret.SecretName != secret {
				continue
			}
			if len(v.Secret.Items) == 0 {
				return path.Base(file) == key
			}
			for _, item := range v.Secret.Items {
				if item.Key == key && item.Path == path.Base(file) {
					return true
				}
			}
		}
	}
	return false
}

func envValue(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func passwordSecret(c corev1.Container) string {
	for _, e := range c.Env {
		if e.Name == "KAFKA_SASL_PASSWORD" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			return e.ValueFrom.SecretKeyRef.Name
		}
	}
	return ""
}

func containerHasPort(c corev1.Container, port string) bool {
	for _, p := range c.Ports {
		if strconv.Itoa(int(p.ContainerPort)) == port {
			return true
		}
	}
	return false
}

func anyMatch(patterns []*regexp.Regexp, s string) bool {
	for _, p := range patterns {
		if p.MatchString(s) {
			return true
		}
	}
	return false
}
