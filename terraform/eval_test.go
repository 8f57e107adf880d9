package terraform_test

// A small evaluator for the Terraform modules under terraform/modules: it
// parses every .tf file with hclparse and evaluates variables, locals,
// outputs (with their preconditions), variable validations and the
// count/for_each of every resource and data source, the way Terraform
// does during plan, using the same HCL and cty libraries. Only the
// functions the modules use are provided; an expression that calls any
// other function fails to evaluate.

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	"github.com/zclconf/go-cty/cty/gocty"
)

// tfFunctions are the Terraform functions the modules call, with
// Terraform's semantics (Terraform itself takes them from the same
// packages).
var tfFunctions = map[string]function.Function{
	"can":        tryfunc.CanFunc,
	"concat":     stdlib.ConcatFunc,
	"contains":   stdlib.ContainsFunc,
	"jsonencode": stdlib.JSONEncodeFunc,
	"lookup":     stdlib.LookupFunc,
	"regex":      stdlib.RegexFunc,
}

type tfFile struct {
	path string
	src  []byte
	body *hclsyntax.Body
}

type tfCheck struct {
	condition hcl.Expression
	message   hcl.Expression
}

type tfVariable struct {
	name        string
	typ         cty.Type
	def         *cty.Value
	validations []tfCheck
}

type tfOutput struct {
	value         hcl.Expression
	preconditions []tfCheck
}

// tfBlock is a resource or data block.
type tfBlock struct {
	kind string // "resource" or "data"
	typ  string
	name string
	body *hclsyntax.Body
}

func (b *tfBlock) address() string {
	if b.kind == "data" {
		return "data." + b.typ + "." + b.name
	}
	return b.typ + "." + b.name
}

type tfModule struct {
	dir       string
	files     []*tfFile
	variables map[string]*tfVariable
	locals    map[string]hcl.Expression
	outputs   map[string]*tfOutput
	blocks    []*tfBlock
}

func loadModule(t *testing.T, dir string) *tfModule {
	t.Helper()
	m := &tfModule{
		dir:       dir,
		variables: map[string]*tfVariable{},
		locals:    map[string]hcl.Expression{},
		outputs:   map[string]*tfOutput{},
	}
	parser := hclparse.NewParser()
	paths, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no .tf files in %s (%v)", dir, err)
	}
	sort.Strings(paths)
	for _, path := range paths {
		f, diags := parser.ParseHCLFile(path)
		if diags.HasErrors() {
			t.Fatalf("parse %s: %s", path, diags.Error())
		}
		body := f.Body.(*hclsyntax.Body)
		m.files = append(m.files, &tfFile{path: path, src: f.Bytes, body: body})
		for _, blk := range body.Blocks {
			switch blk.Type {
			case "variable":
				m.variables[blk.Labels[0]] = loadVariable(t, blk)
			case "locals":
				for name, attr := range blk.Body.Attributes {
					if _, dup := m.locals[name]; dup {
						t.Fatalf("%s: local.%s defined twice", path, name)
					}
					m.locals[name] = attr.Expr
				}
			case "output":
				out := &tfOutput{}
				if attr, ok := blk.Body.Attributes["value"]; ok {
					out.value = attr.Expr
				} else {
					t.Fatalf("%s: output %q has no value", path, blk.Labels[0])
				}
				for _, pre := range blk.Body.Blocks {
					if pre.Type == "precondition" {
						out.preconditions = append(out.preconditions, loadCheck(t, pre))
					}
				}
				m.outputs[blk.Labels[0]] = out
			case "resource", "data":
				m.blocks = append(m.blocks, &tfBlock{kind: blk.Type, typ: blk.Labels[0], name: blk.Labels[1], body: blk.Body})
			}
		}
	}
	return m
}

func loadCheck(t *testing.T, blk *hclsyntax.Block) tfCheck {
	t.Helper()
	cond, ok1 := blk.Body.Attributes["condition"]
	msg, ok2 := blk.Body.Attributes["error_message"]
	if !ok1 || !ok2 {
		t.Fatalf("%s block without condition or error_message", blk.Type)
	}
	return tfCheck{condition: cond.Expr, message: msg.Expr}
}

func loadVariable(t *testing.T, blk *hclsyntax.Block) *tfVariable {
	t.Helper()
	v := &tfVariable{name: blk.Labels[0], typ: cty.DynamicPseudoType}
	if attr, ok := blk.Body.Attributes["type"]; ok {
		ty, diags := typeexpr.TypeConstraint(attr.Expr)
		if diags.HasErrors() {
			t.Fatalf("variable %s: type: %s", v.name, diags.Error())
		}
		v.typ = ty
	}
	if attr, ok := blk.Body.Attributes["default"]; ok {
		val, diags := attr.Expr.Value(nil)
		if diags.HasErrors() {
			t.Fatalf("variable %s: default: %s", v.name, diags.Error())
		}
		val, err := convert.Convert(val, v.typ)
		if err != nil {
			t.Fatalf("variable %s: default does not fit its type: %v", v.name, err)
		}
		v.def = &val
	}
	for _, sub := range blk.Body.Blocks {
		if sub.Type == "validation" {
			v.validations = append(v.validations, loadCheck(t, sub))
		}
	}
	return v
}

// variableValues converts the inputs to the variables' types and fills in
// defaults, as Terraform does for a module call.
func (m *tfModule) variableValues(inputs map[string]cty.Value) (map[string]cty.Value, error) {
	for name := range inputs {
		if _, ok := m.variables[name]; !ok {
			return nil, fmt.Errorf("no variable %q in %s", name, m.dir)
		}
	}
	vals := map[string]cty.Value{}
	for name, v := range m.variables {
		in, given := inputs[name]
		switch {
		case given:
			conv, err := convert.Convert(in, v.typ)
			if err != nil {
				return nil, fmt.Errorf("variable %s: %v", name, err)
			}
			vals[name] = conv
		case v.def != nil:
			vals[name] = *v.def
		default:
			return nil, fmt.Errorf("variable %s is required", name)
		}
	}
	return vals, nil
}

// validate runs every variable's validation blocks.
func (m *tfModule) validate(inputs map[string]cty.Value) error {
	vals, err := m.variableValues(inputs)
	if err != nil {
		return err
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(vals)}, Functions: tfFunctions}
	for _, v := range m.variables {
		for _, check := range v.validations {
			if err := evalCheck(ctx, check); err != nil {
				return fmt.Errorf("variable %s: %v", v.name, err)
			}
		}
	}
	return nil
}

func evalCheck(ctx *hcl.EvalContext, check tfCheck) error {
	ok, diags := check.condition.Value(ctx)
	if diags.HasErrors() {
		return diags
	}
	if ok.IsNull() || !ok.IsKnown() || ok.Type() != cty.Bool {
		return fmt.Errorf("condition is not a known bool: %#v", ok)
	}
	if ok.False() {
		msg, diags := check.message.Value(ctx)
		if diags.HasErrors() {
			return diags
		}
		return fmt.Errorf("check failed: %s", msg.AsString())
	}
	return nil
}

// context evaluates var and every local.
func (m *tfModule) context(inputs map[string]cty.Value) (*hcl.EvalContext, error) {
	vals, err := m.variableValues(inputs)
	if err != nil {
		return nil, err
	}
	locals := map[string]cty.Value{}
	ctx := &hcl.EvalContext{Functions: tfFunctions}
	setVars := func() {
		ctx.Variables = map[string]cty.Value{"var": cty.ObjectVal(vals), "local": cty.ObjectVal(locals)}
	}
	// Locals may refer to each other in any order: evaluate those whose
	// referenced locals are known, until all are.
	for len(locals) < len(m.locals) {
		progress := false
		for name, expr := range m.locals {
			if _, done := locals[name]; done || !localsReady(expr, locals) {
				continue
			}
			setVars()
			val, diags := expr.Value(ctx)
			if diags.HasErrors() {
				return nil, fmt.Errorf("local.%s: %s", name, diags.Error())
			}
			locals[name] = val
			progress = true
		}
		if !progress {
			return nil, fmt.Errorf("locals of %s refer to each other in a cycle or to undefined locals", m.dir)
		}
	}
	setVars()
	return ctx, nil
}

func localsReady(expr hcl.Expression, known map[string]cty.Value) bool {
	for _, tr := range expr.Variables() {
		if tr.RootName() != "local" || len(tr) < 2 {
			continue
		}
		attr, ok := tr[1].(hcl.TraverseAttr)
		if !ok {
			return false
		}
		if _, ok := known[attr.Name]; !ok {
			return false
		}
	}
	return true
}

// output evaluates an output after checking its preconditions.
func (m *tfModule) output(ctx *hcl.EvalContext, name string) (cty.Value, error) {
	out, ok := m.outputs[name]
	if !ok {
		return cty.NilVal, fmt.Errorf("no output %q in %s", name, m.dir)
	}
	for _, pre := range out.preconditions {
		if err := evalCheck(ctx, pre); err != nil {
			return cty.NilVal, fmt.Errorf("output %s: precondition: %v", name, err)
		}
	}
	val, diags := out.value.Value(ctx)
	if diags.HasErrors() {
		return cty.NilVal, fmt.Errorf("output %s: %s", name, diags.Error())
	}
	return val, nil
}

// instances evaluates a block's count or for_each: the number of
// instances, and for for_each their keys. A block with neither is an
// error: every block in these modules must be gated.
func (b *tfBlock) instances(ctx *hcl.EvalContext) (int, []string, error) {
	if attr, ok := b.body.Attributes["count"]; ok {
		val, diags := attr.Expr.Value(ctx)
		if diags.HasErrors() {
			return 0, nil, fmt.Errorf("%s count: %s", b.address(), diags.Error())
		}
		var n int
		if err := fromCty(val, cty.Number, &n); err != nil {
			return 0, nil, fmt.Errorf("%s count: %v", b.address(), err)
		}
		return n, nil, nil
	}
	if attr, ok := b.body.Attributes["for_each"]; ok {
		val, diags := attr.Expr.Value(ctx)
		if diags.HasErrors() {
			return 0, nil, fmt.Errorf("%s for_each: %s", b.address(), diags.Error())
		}
		if !val.IsKnown() || val.IsNull() {
			return 0, nil, fmt.Errorf("%s for_each is null or unknown", b.address())
		}
		ty := val.Type()
		if !ty.IsMapType() && !ty.IsObjectType() && !ty.IsSetType() {
			return 0, nil, fmt.Errorf("%s for_each is a %s, not a map or set", b.address(), ty.FriendlyName())
		}
		var keys []string
		for it := val.ElementIterator(); it.Next(); {
			k, _ := it.Element()
			keys = append(keys, k.AsString())
		}
		sort.Strings(keys)
		return len(keys), keys, nil
	}
	return 0, nil, fmt.Errorf("%s has neither count nor for_each", b.address())
}

// withEmptyBlocks adds every resource and data block to ctx as it is when
// it has no instances (an empty tuple for count, an empty object for
// for_each), so outputs can be evaluated when the module creates nothing.
func (m *tfModule) withEmptyBlocks(ctx *hcl.EvalContext) (*hcl.EvalContext, error) {
	byType := map[string]map[string]map[string]cty.Value{"resource": {}, "data": {}}
	for _, b := range m.blocks {
		n, _, err := b.instances(ctx)
		if err != nil {
			return nil, err
		}
		if n != 0 {
			return nil, fmt.Errorf("%s has %d instances", b.address(), n)
		}
		empty := cty.EmptyTupleVal
		if _, ok := b.body.Attributes["for_each"]; ok {
			empty = cty.EmptyObjectVal
		}
		if byType[b.kind][b.typ] == nil {
			byType[b.kind][b.typ] = map[string]cty.Value{}
		}
		byType[b.kind][b.typ][b.name] = empty
	}
	vars := map[string]cty.Value{}
	for k, v := range ctx.Variables {
		vars[k] = v
	}
	data := map[string]cty.Value{}
	for typ, names := range byType["data"] {
		data[typ] = cty.ObjectVal(names)
	}
	vars["data"] = cty.ObjectVal(data)
	for typ, names := range byType["resource"] {
		vars[typ] = cty.ObjectVal(names)
	}
	return &hcl.EvalContext{Variables: vars, Functions: ctx.Functions}, nil
}

// block returns the resource or data block with the given address.
func (m *tfModule) block(t *testing.T, address string) *tfBlock {
	t.Helper()
	for _, b := range m.blocks {
		if b.address() == address {
			return b
		}
	}
	t.Fatalf("no %s in %s", address, m.dir)
	return nil
}

// attr evaluates an attribute of body that refers only to var and local.
func attr(t *testing.T, ctx *hcl.EvalContext, body *hclsyntax.Body, name string) cty.Value {
	t.Helper()
	a, ok := body.Attributes[name]
	if !ok {
		t.Fatalf("no attribute %q", name)
	}
	val, diags := a.Expr.Value(ctx)
	if diags.HasErrors() {
		t.Fatalf("attribute %s: %s", name, diags.Error())
	}
	return val
}

// subBlocks returns the nested blocks of a given type.
func subBlocks(body *hclsyntax.Body, typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range body.Blocks {
		if b.Type == typ {
			out = append(out, b)
		}
	}
	return out
}

// traversalString renders a traversal such as aws_iam_role.alert_sink[0].arn.
func traversalString(tr hcl.Traversal) string {
	var sb strings.Builder
	for _, step := range tr {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			sb.WriteString(s.Name)
		case hcl.TraverseAttr:
			sb.WriteString("." + s.Name)
		case hcl.TraverseIndex:
			if s.Key.Type() == cty.String {
				sb.WriteString(fmt.Sprintf("[%q]", s.Key.AsString()))
			} else {
				sb.WriteString("[" + s.Key.AsBigFloat().Text('f', -1) + "]")
			}
		default:
			sb.WriteString(fmt.Sprintf("<%T>", step))
		}
	}
	return sb.String()
}

// references lists the traversals an expression reads, rendered, sorted.
func references(expr hcl.Expression) []string {
	var out []string
	for _, tr := range expr.Variables() {
		out = append(out, traversalString(tr))
	}
	sort.Strings(out)
	return out
}

// fromCty converts val to ty and stores it in the Go value out points to.
func fromCty(val cty.Value, ty cty.Type, out any) error {
	conv, err := convert.Convert(val, ty)
	if err != nil {
		return err
	}
	if !conv.IsKnown() || conv.IsNull() {
		return fmt.Errorf("value is null or unknown")
	}
	return gocty.FromCtyValue(conv, out)
}
