package inngesttest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"testing"

	"github.com/go-inngest/inngest/internal/wire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every StepKind the package declares names a step the SDK can produce:
// the kind of one of the opcodes the SDK writes. (A kind for an opcode
// no step tool sends would be a name without a thing.)
func TestStepKindsNameOpcodesTheSDKProduces(t *testing.T) {
	produced := map[StepKind]bool{}
	for _, op := range []string{
		wire.OpStepRun, wire.OpStepError, wire.OpStepFailed, wire.OpStepPlanned,
		wire.OpSleep, wire.OpWaitForEvent, wire.OpInvokeFunction, wire.OpWaitForSignal, wire.OpGateway, wire.OpAIGateway,
	} {
		produced[kindOf(op)] = true
	}

	file, err := parser.ParseFile(token.NewFileSet(), "run.go", nil, 0)
	require.NoError(t, err)
	declared := map[string]StepKind{}
	for _, d := range file.Decls {
		gen, ok := d.(*ast.GenDecl)
		if !ok || gen.Tok != token.CONST {
			continue
		}
		for _, spec := range gen.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "StepKind" {
				continue
			}
			for i, name := range vs.Names {
				lit := vs.Values[i].(*ast.BasicLit)
				v, err := strconv.Unquote(lit.Value)
				require.NoError(t, err)
				declared[name.Name] = StepKind(v)
			}
		}
	}
	require.NotEmpty(t, declared)
	for name, kind := range declared {
		assert.Truef(t, produced[kind], "%s (%q) is the kind of no opcode the SDK produces", name, kind)
	}
	assert.Len(t, declared, len(produced), "every kind the SDK produces is declared")
}
