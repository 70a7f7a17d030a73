#include "epos/spec/template.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "epos/core/json.h"
#include "epos/spec/loader.h"

namespace epos {
namespace {

Spec LoadOne(std::string_view text) {
  auto specs = LoadSpecText(text, "t.yaml");
  EXPECT_TRUE(specs.has_value()) << specs.error().message;
  if (!specs || specs->size() != 1) {
    ADD_FAILURE() << "expected one spec";
    return Spec{};
  }
  return std::move((*specs)[0]);
}

// Expands `spec`; returns the diagnostics, one per line ("" when none).
std::string Expand(Spec& spec, const TemplateBindings& bindings = {}) {
  Diagnostics diags;
  ExpandTemplates(spec, bindings, diags);
  return diags.ToString();
}

std::vector<ValueSpec> Values(std::string_view text) {
  auto values = LoadValuesText(text, "values.yaml");
  EXPECT_TRUE(values.has_value()) << values.error().message;
  return values ? std::move(*values) : std::vector<ValueSpec>{};
}

TEST(TemplateTest, FillsFieldsAndGuardsFromEnvData) {
  Spec spec = LoadOne(R"(
kind: snippet
name: greet
env:
  GREETING: {data: hello}
  N: {data: 3}
message: "{{ .GREETING }}, {{.GREETING}} and {{   .GREETING	}}!"
nested: {list: [a, "{{ .N }}", 7], deeper: {x: "n={{ .N }}"}}
untouched: "{{ payload.name }} {{.}} {{ .1X }} {{ .N x}} {{ .N"
ports:
  out:
    - name: next
      when: "payload.n > {{ .N }}"
)");
  EXPECT_EQ(Expand(spec), "");
  EXPECT_EQ(spec.fields["message"], Value("hello, hello and hello!"));
  EXPECT_EQ(ToJson(spec.fields["nested"]), R"({"list":["a","3",7],"deeper":{"x":"n=3"}})");
  EXPECT_EQ(spec.fields["untouched"], Value("{{ payload.name }} {{.}} {{ .1X }} {{ .N x}} {{ .N"));
  EXPECT_EQ(spec.ports[0].targets[0].when, "payload.n > 3");
  ASSERT_EQ(spec.env_values.size(), 2u);
  EXPECT_EQ(spec.env_values.at("GREETING"), Value("hello"));
  EXPECT_EQ(spec.env_values.at("N"), Value("3"));
}

TEST(TemplateTest, LeavesStringsWithoutTemplatesShared) {
  Spec spec = LoadOne("kind: nop\nname: a\ncode: plain\nlist: [1, two]\n");
  Value before = spec.fields;
  EXPECT_EQ(Expand(spec), "");
  EXPECT_TRUE(spec.fields.SharesBodyWith(before));
}

TEST(TemplateTest, FillsNamesWithoutEnvEntryFromOverrides) {
  Spec spec = LoadOne("kind: listener\nname: l\nport: '{{ .PORT }}'\n");
  TemplateBindings bindings;
  ASSERT_TRUE(bindings.AddOverride("PORT=8080").has_value());
  EXPECT_EQ(Expand(spec, bindings), "");
  EXPECT_EQ(spec.fields["port"], Value("8080"));
  EXPECT_TRUE(spec.env_values.empty());
}

TEST(TemplateTest, EnvDataDrawsOnOverridesLikeUniflow) {
  // uniflow's PORT: {data: '{{ .PORT }}'}: inside an entry's own data, its name is the
  // outer scope's.
  Spec spec = LoadOne(R"(
kind: listener
name: l
env:
  PORT: {data: '{{ .PORT }}'}
  ADDR: {data: '0.0.0.0:{{ .PORT }}'}
address: '{{ .ADDR }}'
)");
  TemplateBindings bindings;
  bindings.SetOverride("PORT", "9000");
  EXPECT_EQ(Expand(spec, bindings), "");
  EXPECT_EQ(spec.fields["address"], Value("0.0.0.0:9000"));
  EXPECT_EQ(spec.env_values.at("PORT"), Value("9000"));
  EXPECT_EQ(spec.env_values.at("ADDR"), Value("0.0.0.0:9000"));
}

TEST(TemplateTest, EnvEntriesWinOverOverrides) {
  Spec spec = LoadOne("kind: nop\nname: a\nenv: {X: {data: mine}}\nv: '{{ .X }}'\n");
  TemplateBindings bindings;
  bindings.SetOverride("X", "theirs");
  EXPECT_EQ(Expand(spec, bindings), "");
  EXPECT_EQ(spec.fields["v"], Value("mine"));
}

TEST(TemplateTest, BindsStoredValues) {
  Spec spec = LoadOne(R"(
kind: http
name: call
namespace: shop
env:
  TOKEN: {name: api-token}
  CONF: {name: config}
header: {Authorization: 'Bearer {{ .TOKEN }}'}
body: '{{ .CONF }}'
direct: '{{ .plain }}'
)");
  TemplateBindings bindings;
  ASSERT_TRUE(bindings
                  .AddValues(Values(R"(
- {name: api-token, namespace: shop, data: s3cret}
- {name: api-token, data: wrong-namespace}
- {name: config, namespace: shop, data: {port: 8080, tls: true}}
- {name: plain, namespace: shop, data: 42}
)"))
                  .has_value());
  EXPECT_EQ(Expand(spec, bindings), "");
  EXPECT_EQ(spec.fields["header"]["Authorization"], Value("Bearer s3cret"));
  EXPECT_EQ(spec.fields["body"], Value(R"({"port":8080,"tls":true})"));
  EXPECT_EQ(spec.fields["direct"], Value("42"));
  // The Lua env table gets the data itself, not its text.
  EXPECT_EQ(ToJson(spec.env_values.at("CONF")), R"({"port":8080,"tls":true})");
  EXPECT_EQ(spec.env_values.at("TOKEN"), Value("s3cret"));
}

TEST(TemplateTest, SubstitutedTextIsNotScannedAgain) {
  Spec spec = LoadOne("kind: nop\nname: a\nv: '{{ .X }}'\n");
  TemplateBindings bindings;
  bindings.SetOverride("X", "{{ .Y }}");
  EXPECT_EQ(Expand(spec, bindings), "");
  EXPECT_EQ(spec.fields["v"], Value("{{ .Y }}"));
}

TEST(TemplateTest, ReportsUnresolvedNamesAtTheirField) {
  Spec spec = LoadOne(R"(kind: router
name: r
routes:
  - path: "/{{ .PREFIX }}/x/{{ .PREFIX }}"
    method: "{{ .METHOD }}"
ports:
  out:
    - name: next
      when: "{{ .LIMIT }}"
code: |
  first
  {{ .MISSING }}
)");
  EXPECT_EQ(Expand(spec),
            "t.yaml:4:11: spec \"r\": field \"routes.0.path\": unresolved template variable "
            "\"PREFIX\" (no env entry, no -e PREFIX=..., no value \"PREFIX\" in namespace "
            "\"default\")\n"
            "t.yaml:5:13: spec \"r\": field \"routes.0.method\": unresolved template variable "
            "\"METHOD\" (no env entry, no -e METHOD=..., no value \"METHOD\" in namespace "
            "\"default\")\n"
            "t.yaml:11:3: spec \"r\": field \"code\": unresolved template variable \"MISSING\" "
            "(no env entry, no -e MISSING=..., no value \"MISSING\" in namespace \"default\")\n"
            "t.yaml:9:13: spec \"r\": field \"ports.out.0.when\": unresolved template variable "
            "\"LIMIT\" (no env entry, no -e LIMIT=..., no value \"LIMIT\" in namespace "
            "\"default\")");
}

TEST(TemplateTest, ReportsUnresolvedNamesInEnvDataOnce) {
  Spec spec = LoadOne(R"(kind: nop
name: a
env:
  PORT: {data: '{{ .PORT }}'}
x: '{{ .PORT }}'
y: '{{ .PORT }}'
)");
  EXPECT_EQ(Expand(spec),
            "t.yaml:4:16: spec \"a\": field \"env.PORT.data\": unresolved template variable "
            "\"PORT\" (no -e PORT=..., no value \"PORT\" in namespace \"default\")");
  EXPECT_TRUE(spec.env_values.empty());
}

TEST(TemplateTest, ReportsMissingValues) {
  Spec spec = LoadOne("kind: nop\nname: a\nnamespace: shop\nenv:\n  T: {name: api-token}\n");
  TemplateBindings bindings;
  ASSERT_TRUE(bindings.AddValues(Values("- {name: api-token, data: x}\n")).has_value());
  EXPECT_EQ(Expand(spec, bindings),
            "t.yaml:5:13: spec \"a\": field \"env.T.name\": no value \"api-token\" in namespace "
            "\"shop\"");
}

TEST(TemplateTest, ReportsCycles) {
  Spec spec = LoadOne(R"(kind: nop
name: a
env:
  A: {data: 'a{{ .B }}'}
  B: {data: 'b{{ .C }}'}
  C: {data: 'c{{ .A }}'}
  D: {data: 'd{{ .A }}'}
  E: {data: 'e'}
x: '{{ .D }}{{ .E }}'
)");
  EXPECT_EQ(Expand(spec),
            "t.yaml:4:13: spec \"a\": field \"env.A.data\": cyclic template reference: "
            "A -> B -> C -> A");
  EXPECT_EQ(spec.env_values.size(), 1u);
  EXPECT_EQ(spec.env_values.at("E"), Value("e"));
}

TEST(TemplateTest, ReportsSelfCycleThroughAnotherEntry) {
  Spec spec = LoadOne(R"(kind: nop
name: a
env:
  B: {data: '{{ .A }}'}
  A: {data: '{{ .B }}'}
)");
  EXPECT_EQ(
      Expand(spec),
      "t.yaml:5:13: spec \"a\": field \"env.A.data\": cyclic template reference: A -> B -> A");
}

TEST(TemplateTest, ExpandsAllSpecsAndReportsAllErrors) {
  auto specs = LoadSpecText(R"(
- {kind: nop, name: a, v: '{{ .X }}'}
- {kind: nop, name: b, v: '{{ .Y }}'}
- {kind: nop, name: c, v: '{{ .Z }}'}
)",
                            "m.yaml");
  ASSERT_TRUE(specs.has_value());
  TemplateBindings bindings;
  bindings.SetOverride("Y", "y");
  Status status = ExpandTemplates(*specs, bindings);
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(status.error().message,
            "m.yaml:2:27: spec \"a\": field \"v\": unresolved template variable \"X\" (no env "
            "entry, no -e X=..., no value \"X\" in namespace \"default\")\n"
            "m.yaml:4:27: spec \"c\": field \"v\": unresolved template variable \"Z\" (no env "
            "entry, no -e Z=..., no value \"Z\" in namespace \"default\")");
  EXPECT_EQ((*specs)[1].fields["v"], Value("y"));
}

TEST(TemplateTest, ParsesOverrides) {
  TemplateBindings bindings;
  ASSERT_TRUE(bindings.AddOverride("A=1=2").has_value());
  ASSERT_TRUE(bindings.AddOverride("EMPTY=").has_value());
  ASSERT_NE(bindings.FindOverride("A"), nullptr);
  EXPECT_EQ(*bindings.FindOverride("A"), "1=2");
  EXPECT_EQ(*bindings.FindOverride("EMPTY"), "");
  EXPECT_EQ(bindings.FindOverride("B"), nullptr);

  Status no_eq = bindings.AddOverride("NOPE");
  ASSERT_FALSE(no_eq.has_value());
  EXPECT_EQ(no_eq.error().message, "-e \"NOPE\": expected NAME=VALUE");
  Status bad = bindings.AddOverride("1A=x");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message,
            "-e \"1A=x\": bad name \"1A\" (use letters, digits and '_', not starting with a "
            "digit)");
}

TEST(TemplateTest, RejectsDuplicateValues) {
  TemplateBindings bindings;
  Status status = bindings.AddValues(Values("- {name: a, data: 1}\n- {name: a, data: 2}\n"));
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().message,
            "values.yaml:2:3: value \"a\" in namespace \"default\" already defined at "
            "values.yaml:1:3");
  ASSERT_NE(bindings.FindValue("default", "a"), nullptr);
  EXPECT_EQ(bindings.FindValue("default", "a")->data, Value(1));
}

TEST(TemplateTest, TemplateTextOfValues) {
  EXPECT_EQ(TemplateText(Value("s")), "s");
  EXPECT_EQ(TemplateText(Value()), "");
  EXPECT_EQ(TemplateText(Value(1.5)), "1.5");
  EXPECT_EQ(TemplateText(Value::Array({1, "a"})), R"([1,"a"])");
}

}  // namespace
}  // namespace epos
