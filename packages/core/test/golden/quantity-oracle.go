// Regenerates test/golden/quantity.golden.json: what k8s.io/apimachinery v0.36.3 (the version the
// local control plane in tools/control-plane runs) stores for each quantity string, i.e.
// ParseQuantity(s).String(), or null when it rejects s. The inputs are hand-picked edge cases plus
// deterministic random strings. Run it outside the workspace:
//
//	mkdir /tmp/oracle && cp quantity-oracle.go /tmp/oracle/main.go && cd /tmp/oracle &&
//	go mod init oracle && go get k8s.io/apimachinery@v0.36.3 && go run . > quantity.golden.json
package main

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"sort"

	"k8s.io/apimachinery/pkg/api/resource"
)

var curated = []string{
	"0", "1", "1000m", "0.5", "1024Mi", "1073741824", "1Gi", "1.5Gi", "0.5Gi", "0.5Ki", "1.5Ki", "100m",
	"0.1", "1.2345", "0.9n", "1e-10", "1.500", "+1", "01", "1.001", "1.050", "1E3", "1e3", "1e+3", "10e2",
	"1e-5", "1.0", "-1", "-0", "+", "-", ".", "-.", "1.", "1.G", ".5", ".001Ki", ".000000000001Ki",
	"100.035Ki", "9Ei", "8Ei", "7Ei", "1Ei", "3Ei", "1Pi", "01Pi", "01Ti", "1Ti", "8Ki", "1536Ki", "1025Ki",
	"-1Ki", "-1023", "-1.5Ki", "12E", "1.01E", "2.5P", "1E-3", "1.1E-9", "0.0000000001", "0.00000012345",
	"1.1.M", "1+1.0M", "0.1mi", "0.1am", "aoeu", ".5i", "1i", "-3.01i", "-3.01e-", " 1", "1 ", "", "1K",
	"1KI", "1e", "1e+", "1Em", "1m5", "1Ki5", "1e-3.5", "500m", "2", "4Gi", "20", "10Gi", "128Mi", "512Mi",
	"1000", "1000000", "1e6", "1E6", "123456789012345678", "1234567890123456789", "12345678901234567890Ki",
	"9223372036854775807", "9223372036854775808", "9223372036854775807Ki", ".e-10", "-.e-10", ".5e-10",
	"0.e-10", "00.e-10", ".Ki", "-.Ki", ".5Ki", "0.0", "0.000", "000", "0Ki", "0Ei", "0.0Ki", "1e0", "1.5e0",
	"0.5e-1", "1.3E+6", "1.40e9", "3.001n", "1000n", "1000u", "1000k", "999m", "1001m", "100u", "1n", "1u",
	"0.001", "0.0005k", "7.123456M", "6.987654321G", "1E18", "1e21", "1e-9", "1e-12", "-1e-12", "1.1",
	"1.10", "1.100", "1.1000", "2048", "1024", "1023", "3072Ki", "3Mi", "1.25Mi", "0.25Ki", "256", "1E+3",
	"1e-0", "1e00", "1e003", "5e-9", "50e-10", "1.5", "1500m", "2000M", "2G", "1e2147483647", "1e-999", "1000E", "10000.E", "1000000P",
}

func random(r *rand.Rand) string {
	if r.Intn(3) == 0 {
		const alphabet = "0123456789.+-eEinumkKMGTP"
		b := make([]byte, 1+r.Intn(9))
		for i := range b {
			b[i] = alphabet[r.Intn(len(alphabet))]
		}
		return string(b)
	}
	sign := []string{"", "", "", "-", "+"}[r.Intn(5)]
	digits := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + r.Intn(10))
		}
		return string(b)
	}
	integer := []string{"", "0", "00", digits(1 + r.Intn(3)), digits(1 + r.Intn(8)), digits(1 + r.Intn(20))}[r.Intn(6)]
	fraction := []string{"", ".", "." + digits(1+r.Intn(3)), "." + digits(1+r.Intn(12))}[r.Intn(4)]
	if integer == "" && (fraction == "" || fraction == ".") {
		integer = "1"
	}
	suffixes := []string{"", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"}
	var suffix string
	switch r.Intn(4) {
	case 0:
		suffix = fmt.Sprintf("e%d", r.Intn(61)-30)
	case 1:
		suffix = fmt.Sprintf("E+%d", r.Intn(31))
	default:
		suffix = suffixes[r.Intn(len(suffixes))]
	}
	return sign + integer + fraction + suffix
}

func main() {
	r := rand.New(rand.NewSource(20240611))
	seen := map[string]bool{}
	inputs := []string{}
	for _, s := range curated {
		if !seen[s] {
			seen[s] = true
			inputs = append(inputs, s)
		}
	}
	var randoms []string
	for len(randoms) < 1500 {
		s := random(r)
		if !seen[s] {
			seen[s] = true
			randoms = append(randoms, s)
		}
	}
	sort.Strings(randoms)
	inputs = append(inputs, randoms...)

	type golden struct {
		Source string `json:"source"`
		// Inputs whose stored string v0.36.3 corrupts (DecimalSI past 10^18 loses its exponent,
		// kubernetes#140459): the string it writes does not parse back to the same value.
		Corrupted [][2]string `json:"corrupted"`
		Cases     [][2]any    `json:"cases"`
	}
	out := golden{Source: "k8s.io/apimachinery v0.36.3: ParseQuantity(s).String(); null when ParseQuantity fails", Corrupted: [][2]string{}}
	for _, s := range inputs {
		q, err := resource.ParseQuantity(s)
		if err != nil {
			out.Cases = append(out.Cases, [2]any{s, nil})
			continue
		}
		written := q.String()
		back, err := resource.ParseQuantity(written)
		if err != nil || back.Cmp(q) != 0 {
			out.Corrupted = append(out.Corrupted, [2]string{s, written})
			continue
		}
		out.Cases = append(out.Cases, [2]any{s, written})
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(out)
}
