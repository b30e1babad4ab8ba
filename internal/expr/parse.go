package expr

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// kind is the kind of a node of a parsed expression.
type kind uint8

const (
	litNode    kind = iota // a literal: val
	identNode              // a variable or type name: name
	selectNode             // operand.name, or has(operand.name) when test
	callNode               // name(args), or target.name(args)
	listNode               // [args...]
	mapNode                // {args[0]: args[1], ...}
	structNode             // name{fields: args}; never declared here
	compNode               // a macro's comprehension
)

// node is one node of a parsed expression. Macros are expanded as CEL
// expands them, into comprehensions over an accumulator.
type node struct {
	kind   kind
	pos    int // offset in runes, for messages
	val    any
	name   string
	target *node // select operand, receiver of a method call
	test   bool  // select: has()
	args   []*node

	// compNode
	iterVar, accuVar                 string
	iterRange, init, cond, step, res *node
	macroArgs                        []*node // as written, for visitDepth
}

// Operator function names, as CEL names them.
const (
	opCond     = "_?_:_"
	opAnd      = "_&&_"
	opOr       = "_||_"
	opNot      = "!_"
	opNeg      = "-_"
	opEq       = "_==_"
	opNe       = "_!=_"
	opLt       = "_<_"
	opLe       = "_<=_"
	opGt       = "_>_"
	opGe       = "_>=_"
	opAdd      = "_+_"
	opSub      = "_-_"
	opMul      = "_*_"
	opDiv      = "_/_"
	opMod      = "_%_"
	opIndex    = "_[_]"
	opIn       = "@in"
	opNotFalse = "@not_strictly_false"
	accuName   = "@result"
)

// opText is how an operator is written.
var opText = map[string]string{
	opCond: "?", opAnd: "&&", opOr: "||", opNot: "!", opNeg: "-", opEq: "==", opNe: "!=",
	opLt: "<", opLe: "<=", opGt: ">", opGe: ">=", opAdd: "+", opSub: "-", opMul: "*",
	opDiv: "/", opMod: "%", opIndex: "[]", opIn: "in",
}

// reserved are the identifiers CEL does not allow as names.
var reserved = map[string]bool{
	"as": true, "break": true, "const": true, "continue": true, "else": true, "false": true,
	"for": true, "function": true, "if": true, "import": true, "in": true, "let": true,
	"loop": true, "package": true, "namespace": true, "null": true, "return": true,
	"true": true, "var": true, "void": true,
}

// Limits of CEL's parser.
const (
	maxCodePoints = 100_000
	maxDepth      = 250
)

// Error is an error in an expression, at a position, written as CEL
// writes its issues.
type Error struct {
	Src string
	Pos int // offset in runes
	Msg string
}

func (e *Error) Error() string {
	line, col := 1, 0
	for i, r := range []rune(e.Src) {
		if i == e.Pos {
			break
		}
		if r == '\n' {
			line, col = line+1, 0
			continue
		}
		col++
	}
	text := strings.Split(e.Src, "\n")[line-1]
	return fmt.Sprintf("ERROR: <input>:%d:%d: %s\n | %s\n | %s^", line, col+1, e.Msg, text, strings.Repeat(".", col))
}

// token kinds.
type tokKind uint8

const (
	tokEOF tokKind = iota
	tokIdent
	tokEscIdent
	tokInt
	tokUint
	tokFloat
	tokString
	tokBytes
	tokPunct // text holds the punctuation or keyword (true, false, null, in)
)

type token struct {
	kind tokKind
	text string // raw text
	pos  int    // offset in runes
	val  any    // decoded literal value
	err  string // a literal that does not decode
}

type lexer struct {
	src []rune
	i   int
}

func isLetter(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }
func isDigit(r rune) bool  { return r >= '0' && r <= '9' }
func isHex(r rune) bool    { return isDigit(r) || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F' }

func lex(src string) ([]token, *Error) {
	l := &lexer{src: []rune(src)}
	var toks []token
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		toks = append(toks, t)
		if t.kind == tokEOF {
			return toks, nil
		}
	}
}

func (l *lexer) peek(k int) rune {
	if l.i+k < len(l.src) {
		return l.src[l.i+k]
	}
	return 0
}

func (l *lexer) errAt(pos int, format string, args ...any) *Error {
	return &Error{Src: string(l.src), Pos: pos, Msg: "Syntax error: " + fmt.Sprintf(format, args...)}
}

func (l *lexer) next() (token, *Error) {
	// Whitespace and comments.
	for l.i < len(l.src) {
		r := l.src[l.i]
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == '\f' {
			l.i++
			continue
		}
		if r == '/' && l.peek(1) == '/' {
			for l.i < len(l.src) && l.src[l.i] != '\n' {
				l.i++
			}
			continue
		}
		break
	}
	start := l.i
	if l.i >= len(l.src) {
		return token{kind: tokEOF, pos: start, text: "<EOF>"}, nil
	}
	r := l.src[l.i]
	switch {
	case isLetter(r) || r == '_':
		// A string or bytes prefix?
		if q, ok := l.stringPrefix(); ok {
			return l.lexString(start, q)
		}
		for l.i < len(l.src) && (isLetter(l.src[l.i]) || isDigit(l.src[l.i]) || l.src[l.i] == '_') {
			l.i++
		}
		text := string(l.src[start:l.i])
		switch text {
		case "true", "false", "null", "in":
			return token{kind: tokPunct, text: text, pos: start}, nil
		}
		return token{kind: tokIdent, text: text, pos: start}, nil
	case r == '`':
		l.i++
		for l.i < len(l.src) {
			c := l.src[l.i]
			if isLetter(c) || isDigit(c) || strings.ContainsRune("_.-/ ", c) {
				l.i++
				continue
			}
			break
		}
		if l.i == start+1 || l.peek(0) != '`' {
			return token{}, l.errAt(start, "token recognition error at: '%s'", string(l.src[start:min(l.i+1, len(l.src))]))
		}
		l.i++
		return token{kind: tokEscIdent, text: string(l.src[start+1 : l.i-1]), pos: start}, nil
	case isDigit(r) || r == '.' && isDigit(l.peek(1)):
		return l.lexNumber(start)
	case r == '"' || r == '\'':
		return l.lexString(start, 0)
	}
	for _, p := range []string{"==", "!=", "<=", ">=", "&&", "||"} {
		if r == rune(p[0]) && l.peek(1) == rune(p[1]) {
			l.i += 2
			return token{kind: tokPunct, text: p, pos: start}, nil
		}
	}
	if strings.ContainsRune("<>[]{}().,-!?:+*/%", r) {
		l.i++
		return token{kind: tokPunct, text: string(r), pos: start}, nil
	}
	return token{}, l.errAt(start, "token recognition error at: '%c'", r)
}

// stringPrefix reports whether a string literal starts here with a
// prefix (r, R, b, B, or b/B then r/R), and leaves l.i at the quote.
// It returns the prefix flags: 1 raw, 2 bytes.
func (l *lexer) stringPrefix() (int, bool) {
	isQuote := func(r rune) bool { return r == '"' || r == '\'' }
	c0, c1, c2 := l.peek(0), l.peek(1), l.peek(2)
	switch {
	case (c0 == 'r' || c0 == 'R') && isQuote(c1):
		l.i++
		return 1, true
	case (c0 == 'b' || c0 == 'B') && isQuote(c1):
		l.i++
		return 2, true
	case (c0 == 'b' || c0 == 'B') && (c1 == 'r' || c1 == 'R') && isQuote(c2):
		l.i += 2
		return 3, true
	}
	return 0, false
}

func (l *lexer) lexNumber(start int) (token, *Error) {
	if l.peek(0) == '0' && (l.peek(1) == 'x') && isHex(l.peek(2)) {
		l.i += 2
		for isHex(l.peek(0)) {
			l.i++
		}
		digits := string(l.src[start+2 : l.i])
		if l.peek(0) == 'u' || l.peek(0) == 'U' {
			l.i++
			t := token{kind: tokUint, text: string(l.src[start:l.i]), pos: start}
			if v, err := strconv.ParseUint(digits, 16, 64); err == nil {
				t.val = v
			} else {
				t.err = "invalid uint literal"
			}
			return t, nil
		}
		t := token{kind: tokInt, text: string(l.src[start:l.i]), pos: start}
		t.val = digits
		return t, nil
	}
	for isDigit(l.peek(0)) {
		l.i++
	}
	isFloat := false
	if l.peek(0) == '.' && isDigit(l.peek(1)) {
		isFloat = true
		l.i++
		for isDigit(l.peek(0)) {
			l.i++
		}
	}
	if e := l.peek(0); e == 'e' || e == 'E' {
		k := 1
		if s := l.peek(1); s == '+' || s == '-' {
			k = 2
		}
		if isDigit(l.peek(k)) {
			isFloat = true
			l.i += k
			for isDigit(l.peek(0)) {
				l.i++
			}
		}
	}
	text := string(l.src[start:l.i])
	if isFloat {
		t := token{kind: tokFloat, text: text, pos: start}
		if v, err := strconv.ParseFloat(text, 64); err == nil {
			t.val = v
		} else {
			t.err = "invalid double literal"
		}
		return t, nil
	}
	if l.peek(0) == 'u' || l.peek(0) == 'U' {
		l.i++
		t := token{kind: tokUint, text: string(l.src[start:l.i]), pos: start}
		if v, err := strconv.ParseUint(text, 10, 64); err == nil {
			t.val = v
		} else {
			t.err = "invalid uint literal"
		}
		return t, nil
	}
	return token{kind: tokInt, text: text, pos: start, val: text}, nil
}

// lexString reads a string or bytes literal whose quote is at l.i.
func (l *lexer) lexString(start, prefix int) (token, *Error) {
	raw, isBytes := prefix&1 != 0, prefix&2 != 0
	q := l.peek(0)
	triple := l.peek(1) == q && l.peek(2) == q
	n := 1
	if triple {
		n = 3
	}
	l.i += n
	bodyStart := l.i
	for {
		if l.i >= len(l.src) {
			return token{}, l.errAt(start, "token recognition error at: '%s'", string(l.src[start:]))
		}
		c := l.src[l.i]
		if triple {
			if c == q && l.peek(1) == q && l.peek(2) == q {
				break
			}
		} else {
			if c == q {
				break
			}
			if c == '\n' || c == '\r' {
				return token{}, l.errAt(start, "token recognition error at: '%s'", string(l.src[start:l.i+1]))
			}
		}
		if c == '\\' && !raw {
			if !l.escapeOK() {
				return token{}, l.errAt(start, "token recognition error at: '%s'", string(l.src[start:min(l.i+2, len(l.src))]))
			}
			continue
		}
		l.i++
	}
	body := l.src[bodyStart:l.i]
	l.i += n
	t := token{kind: tokString, text: string(l.src[start:l.i]), pos: start}
	if isBytes {
		t.kind = tokBytes
	}
	if raw {
		if isBytes {
			t.val = []byte(string(body))
		} else {
			t.val = string(body)
		}
		return t, nil
	}
	v, err := unescape(body, isBytes)
	if err != "" {
		t.err = err
		return t, nil
	}
	t.val = v
	return t, nil
}

// escapeOK consumes one escape sequence at l.i (a backslash) and reports
// whether it is one CEL's grammar knows.
func (l *lexer) escapeOK() bool {
	c := l.peek(1)
	count := func(k int, ok func(rune) bool) bool {
		for j := 0; j < k; j++ {
			if !ok(l.peek(2 + j)) {
				return false
			}
		}
		l.i += 2 + k
		return true
	}
	switch c {
	case 'a', 'b', 'f', 'n', 'r', 't', 'v', '"', '\'', '\\', '?', '`':
		l.i += 2
		return true
	case 'x', 'X':
		return count(2, isHex)
	case 'u':
		return count(4, isHex)
	case 'U':
		return count(8, isHex)
	case '0', '1', '2', '3':
		return count(2, func(r rune) bool { return r >= '0' && r <= '7' })
	}
	return false
}

// unescape decodes a literal's body whose escapes the lexer checked.
func unescape(body []rune, isBytes bool) (any, string) {
	var out []byte
	hexVal := func(rs []rune) uint64 {
		v, _ := strconv.ParseUint(string(rs), 16, 64)
		return v
	}
	for i := 0; i < len(body); {
		c := body[i]
		if c != '\\' {
			out = utf8.AppendRune(out, c)
			i++
			continue
		}
		e := body[i+1]
		switch e {
		case 'a':
			out = append(out, '\a')
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'v':
			out = append(out, '\v')
		case '"', '\'', '\\', '?', '`':
			out = append(out, byte(e))
		case 'x', 'X':
			v := hexVal(body[i+2 : i+4])
			if isBytes {
				out = append(out, byte(v))
			} else {
				out = utf8.AppendRune(out, rune(v))
			}
			i += 4
			continue
		case 'u', 'U':
			k := 4
			if e == 'U' {
				k = 8
			}
			v := hexVal(body[i+2 : i+2+k])
			if isBytes {
				return nil, "unicode escape in a bytes literal"
			}
			if v > utf8.MaxRune || v >= 0xD800 && v < 0xE000 {
				return nil, "invalid unicode code point"
			}
			out = utf8.AppendRune(out, rune(v))
			i += 2 + k
			continue
		default: // octal
			v, _ := strconv.ParseUint(string(body[i+1:i+4]), 8, 32)
			if isBytes {
				out = append(out, byte(v))
			} else {
				out = utf8.AppendRune(out, rune(v))
			}
			i += 4
			continue
		}
		i += 2
	}
	if isBytes {
		if out == nil {
			out = []byte{}
		}
		return out, ""
	}
	return string(out), ""
}

// parser is a recursive-descent parser for CEL's grammar.
type parser struct {
	src   string
	toks  []token
	i     int
	depth int
	err   *Error
}

// Parse parses src as a CEL expression, expanding its macros (has, all,
// exists, exists_one, map, filter) as CEL does.
func Parse(src string) (*Expr, error) {
	if utf8.RuneCountInString(src) > maxCodePoints {
		return nil, &Error{Src: src, Msg: fmt.Sprintf("expression code point size exceeds limit: size: %d, limit %d", utf8.RuneCountInString(src), maxCodePoints)}
	}
	toks, lerr := lex(src)
	if lerr != nil {
		return nil, lerr
	}
	p := &parser{src: src, toks: toks}
	n := p.expr()
	if p.err == nil && p.tok().kind != tokEOF {
		p.fail(p.tok(), "extraneous input '%s' expecting <EOF>", p.tok().text)
	}
	if p.err != nil {
		return nil, p.err
	}
	if visitDepth(n) > maxDepth {
		return nil, &Error{Src: src, Pos: 0, Msg: "max recursion depth exceeded"}
	}
	return &Expr{src: src, root: n}, nil
}

// visitDepth is the nesting CEL's parser limits when it builds the
// expression: of conditionals, binary operators but && and ||,
// selections, method calls (macros too) and indexing.
func visitDepth(n *node) int {
	if n == nil {
		return 0
	}
	d := 0
	kids := n.args
	switch n.kind {
	case selectNode:
		d = 1
		kids = []*node{n.target}
	case callNode:
		switch {
		case n.target != nil:
			d = 1
			kids = append([]*node{n.target}, n.args...)
		case n.name == opAnd || n.name == opOr || n.name == opNot || n.name == opNeg:
		case strings.HasPrefix(n.name, "_") || n.name == opIn:
			d = 1
		}
	case compNode:
		d = 1
		kids = append([]*node{n.iterRange}, n.macroArgs...)
	}
	m := 0
	for _, k := range kids {
		m = max(m, visitDepth(k))
	}
	return d + m
}

func (p *parser) tok() token { return p.toks[p.i] }

func (p *parser) is(text string) bool {
	t := p.tok()
	return t.kind == tokPunct && t.text == text
}

func (p *parser) accept(text string) bool {
	if p.is(text) {
		p.i++
		return true
	}
	return false
}

func (p *parser) fail(t token, format string, args ...any) *node {
	if p.err == nil {
		p.err = &Error{Src: p.src, Pos: t.pos, Msg: "Syntax error: " + fmt.Sprintf(format, args...)}
	}
	// Stop: point at the end so that every loop exits.
	p.i = len(p.toks) - 1
	return &node{kind: litNode}
}

func (p *parser) failPlain(pos int, format string, args ...any) *node {
	if p.err == nil {
		p.err = &Error{Src: p.src, Pos: pos, Msg: fmt.Sprintf(format, args...)}
	}
	p.i = len(p.toks) - 1
	return &node{kind: litNode}
}

func (p *parser) expect(text string) {
	if !p.accept(text) {
		t := p.tok()
		if t.kind == tokEOF {
			p.fail(t, "mismatched input '<EOF>' expecting '%s'", text)
			return
		}
		p.fail(t, "mismatched input '%s' expecting '%s'", t.text, text)
	}
}

func call(pos int, name string, args ...*node) *node {
	return &node{kind: callNode, pos: pos, name: name, args: args}
}

// nest counts one more level of CEL's grammar rules, which its parser
// limits to maxDepth: each expression in parentheses, a literal, an
// argument or an index, and each right operand of an arithmetic or
// relational operator.
func (p *parser) nest() bool {
	p.depth++
	if p.depth > maxDepth {
		p.failPlain(p.tok().pos, "expression recursion limit exceeded: %d", maxDepth)
		return false
	}
	return true
}

func (p *parser) expr() *node {
	defer func() { p.depth-- }()
	if !p.nest() {
		return &node{kind: litNode}
	}
	e := p.or()
	if p.is("?") {
		pos := p.tok().pos
		p.i++
		a := p.or()
		p.expect(":")
		b := p.expr()
		return call(pos, opCond, e, a, b)
	}
	return e
}

func (p *parser) or() *node {
	e := p.and()
	for p.is("||") {
		pos := p.tok().pos
		p.i++
		e = call(pos, opOr, e, p.and())
	}
	return e
}

func (p *parser) and() *node {
	e := p.relation()
	for p.is("&&") {
		pos := p.tok().pos
		p.i++
		e = call(pos, opAnd, e, p.relation())
	}
	return e
}

var relOps = map[string]string{"<": opLt, "<=": opLe, ">": opGt, ">=": opGe, "==": opEq, "!=": opNe, "in": opIn}

func (p *parser) relation() *node {
	e := p.addition()
	for {
		t := p.tok()
		op, ok := relOps[t.text]
		if t.kind != tokPunct || !ok {
			return e
		}
		p.i++
		e = call(t.pos, op, e, p.operand(p.addition))
	}
}

// operand reads the right operand of a binary operator.
func (p *parser) operand(read func() *node) *node {
	defer func() { p.depth-- }()
	if !p.nest() {
		return &node{kind: litNode}
	}
	return read()
}

func (p *parser) addition() *node {
	e := p.multiplication()
	for p.is("+") || p.is("-") {
		t := p.tok()
		p.i++
		op := opAdd
		if t.text == "-" {
			op = opSub
		}
		e = call(t.pos, op, e, p.operand(p.multiplication))
	}
	return e
}

func (p *parser) multiplication() *node {
	e := p.unary()
	for p.is("*") || p.is("/") || p.is("%") {
		t := p.tok()
		p.i++
		op := map[string]string{"*": opMul, "/": opDiv, "%": opMod}[t.text]
		e = call(t.pos, op, e, p.operand(p.unary))
	}
	return e
}

func (p *parser) unary() *node {
	t := p.tok()
	switch {
	case p.is("!"):
		n := 0
		for p.accept("!") {
			n++
		}
		m := p.member()
		if n%2 == 0 {
			return m
		}
		return call(t.pos, opNot, m)
	case p.is("-"):
		// A single minus before a number is the number's sign.
		if next := p.toks[p.i+1]; next.kind == tokInt || next.kind == tokFloat {
			return p.member()
		}
		// Otherwise CEL's grammar reads the minuses greedily: "--1" is
		// 1, "-x" a negation.
		n := 0
		for p.accept("-") {
			n++
		}
		m := p.member()
		if n%2 == 0 {
			return m
		}
		return call(t.pos, opNeg, m)
	}
	return p.member()
}

func (p *parser) member() *node {
	e := p.primary()
	for {
		t := p.tok()
		switch {
		case p.is("."):
			p.i++
			if p.is("?") {
				return p.fail(p.tok(), "unsupported syntax '.?'")
			}
			id := p.tok()
			switch id.kind {
			case tokIdent:
				p.i++
				if p.is("(") {
					open := p.tok()
					p.i++
					args := p.exprList(")")
					e = p.receiverCall(open.pos, id.text, e, args)
					continue
				}
				e = &node{kind: selectNode, pos: t.pos, name: id.text, target: e}
			case tokEscIdent:
				p.i++
				e = &node{kind: selectNode, pos: t.pos, name: id.text, target: e}
			default:
				return p.mismatched(id, "{IDENTIFIER, ESC_IDENTIFIER}")
			}
		case p.is("["):
			p.i++
			if p.is("?") {
				return p.fail(t, "unsupported syntax '[?'")
			}
			idx := p.expr()
			p.expect("]")
			e = call(t.pos, opIndex, e, idx)
		default:
			return e
		}
	}
}

func (p *parser) mismatched(t token, expecting string) *node {
	if t.kind == tokEOF {
		return p.fail(t, "mismatched input '<EOF>' expecting %s", expecting)
	}
	return p.fail(t, "mismatched input '%s' expecting %s", t.text, expecting)
}

// exprList reads expressions separated by commas up to close.
func (p *parser) exprList(close string) []*node {
	var args []*node
	if p.accept(close) {
		return args
	}
	for {
		args = append(args, p.expr())
		if p.accept(",") {
			continue
		}
		p.expect(close)
		return args
	}
}

func (p *parser) primary() *node {
	t := p.tok()
	switch t.kind {
	case tokIdent:
		p.i++
		return p.identOrCall(t, "")
	case tokInt, tokUint, tokFloat, tokString, tokBytes:
		p.i++
		return p.literal(t, false)
	case tokEOF:
		return p.fail(t, "mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}")
	case tokEscIdent:
		return p.fail(t, "extraneous input '`%s`'", t.text)
	}
	switch t.text {
	case "-":
		p.i++
		return p.literal(p.nextTok(), true)
	case "true", "false":
		p.i++
		return &node{kind: litNode, pos: t.pos, val: t.text == "true"}
	case "null":
		p.i++
		return &node{kind: litNode, pos: t.pos, val: nil}
	case ".":
		p.i++
		id := p.tok()
		if id.kind != tokIdent {
			return p.mismatched(id, "IDENTIFIER")
		}
		p.i++
		return p.identOrCall(id, ".")
	case "(":
		p.i++
		e := p.expr()
		p.expect(")")
		return e
	case "[":
		p.i++
		if p.is("?") {
			return p.fail(p.tok(), "unsupported syntax '?'")
		}
		var elems []*node
		for !p.is("]") && !p.is(",") {
			if p.is("?") {
				return p.fail(p.tok(), "unsupported syntax '?'")
			}
			elems = append(elems, p.expr())
			if !p.accept(",") {
				break
			}
		}
		if len(elems) == 0 {
			p.accept(",")
		}
		p.expect("]")
		return &node{kind: listNode, pos: t.pos, args: elems}
	case "{":
		p.i++
		var args []*node
		for !p.is("}") && !p.is(",") {
			if p.is("?") {
				return p.fail(p.tok(), "unsupported syntax '?'")
			}
			k := p.expr()
			p.expect(":")
			v := p.expr()
			args = append(args, k, v)
			if !p.accept(",") {
				break
			}
		}
		if len(args) == 0 {
			p.accept(",")
		}
		p.expect("}")
		return &node{kind: mapNode, pos: t.pos, args: args}
	}
	return p.fail(t, "extraneous input '%s'", t.text)
}

func (p *parser) nextTok() token {
	t := p.tok()
	p.i++
	return t
}

// identOrCall reads what follows an identifier: a call, a message
// construction, or nothing.
func (p *parser) identOrCall(id token, dot string) *node {
	if p.is("(") {
		p.i++
		if reserved[id.text] {
			return p.failPlain(id.pos, "Syntax error: reserved identifier: %s", id.text)
		}
		args := p.exprList(")")
		return p.globalCall(id.pos, dot+id.text, args)
	}
	// A message construction: a.b.C{...}
	name := dot + id.text
	save := p.i
	for p.is(".") && p.toks[p.i+1].kind == tokIdent {
		p.i += 2
		name += "." + p.toks[p.i-1].text
	}
	if p.is("{") {
		p.i++
		var args []*node
		for !p.is("}") {
			if p.is("?") {
				return p.fail(p.tok(), "unsupported syntax '?'")
			}
			f := p.tok()
			if f.kind != tokIdent && f.kind != tokEscIdent {
				return p.mismatched(f, "{IDENTIFIER, ESC_IDENTIFIER}")
			}
			p.i++
			p.expect(":")
			v := p.expr()
			args = append(args, &node{kind: litNode, val: f.text}, v)
			if !p.accept(",") {
				break
			}
		}
		p.expect("}")
		return &node{kind: structNode, pos: id.pos, name: name, args: args}
	}
	p.i = save
	if reserved[id.text] {
		return p.failPlain(id.pos, "Syntax error: reserved identifier: %s", id.text)
	}
	return &node{kind: identNode, pos: id.pos, name: dot + id.text}
}

func (p *parser) literal(t token, neg bool) *node {
	n := &node{kind: litNode, pos: t.pos}
	if t.err != "" {
		return p.failPlain(t.pos, "Syntax error: %s", t.err)
	}
	switch t.kind {
	case tokInt:
		text := t.val.(string)
		base := 10
		if strings.HasPrefix(t.text, "0x") {
			base = 16
		}
		if neg {
			text = "-" + text
		}
		v, err := strconv.ParseInt(text, base, 64)
		if err != nil {
			return p.failPlain(t.pos, "Syntax error: invalid int literal")
		}
		n.val = v
	case tokFloat:
		v := t.val.(float64)
		if neg {
			v = -v
		}
		n.val = v
	case tokUint, tokString, tokBytes:
		if neg {
			return p.mismatched(t, "{NUM_FLOAT, NUM_INT}")
		}
		n.val = t.val
	default:
		return p.mismatched(t, "{NUM_FLOAT, NUM_INT}")
	}
	return n
}

// isMacro reports whether a call is one of CEL's macros, by name,
// argument count and call style.
func isMacro(name string, args int, receiver bool) bool {
	switch name {
	case "has":
		return !receiver && args == 1
	case "all", "exists", "exists_one", "filter":
		return receiver && args == 2
	case "map":
		return receiver && (args == 2 || args == 3)
	}
	return false
}

func (p *parser) globalCall(pos int, name string, args []*node) *node {
	if isMacro(name, len(args), false) { // has
		a := args[0]
		if a.kind != selectNode || a.test {
			return p.failPlain(a.pos, "invalid argument to has() macro")
		}
		return &node{kind: selectNode, pos: pos, name: a.name, target: a.target, test: true}
	}
	return call(pos, name, args...)
}

func (p *parser) receiverCall(pos int, name string, target *node, args []*node) *node {
	if !isMacro(name, len(args), true) {
		n := call(pos, name, args...)
		n.target = target
		return n
	}
	v := args[0]
	if v.kind != identNode {
		if name == "map" || name == "filter" {
			return p.failPlain(v.pos, "argument is not an identifier")
		}
		return p.failPlain(v.pos, "argument must be a simple name")
	}
	if v.name == accuName || v.name == "__result__" {
		return p.failPlain(v.pos, "iteration variable overwrites accumulator variable")
	}
	accu := func() *node { return &node{kind: identNode, pos: pos, name: accuName} }
	lit := func(x any) *node { return &node{kind: litNode, pos: pos, val: x} }
	c := &node{kind: compNode, pos: pos, iterRange: target, iterVar: v.name, accuVar: accuName, macroArgs: args}
	switch name {
	case "all":
		c.init, c.cond, c.step, c.res = lit(true), call(pos, opNotFalse, accu()), call(pos, opAnd, accu(), args[1]), accu()
	case "exists":
		c.init, c.cond, c.step, c.res = lit(false), call(pos, opNotFalse, call(pos, opNot, accu())), call(pos, opOr, accu(), args[1]), accu()
	case "exists_one":
		c.init, c.cond = lit(int64(0)), lit(true)
		c.step = call(pos, opCond, args[1], call(pos, opAdd, accu(), lit(int64(1))), accu())
		c.res = call(pos, opEq, accu(), lit(int64(1)))
	case "map":
		fn := args[len(args)-1]
		c.init, c.cond, c.res = &node{kind: listNode, pos: pos}, lit(true), accu()
		c.step = call(pos, opAdd, accu(), &node{kind: listNode, pos: pos, args: []*node{fn}})
		if len(args) == 3 {
			c.step = call(pos, opCond, args[1], c.step, accu())
		}
	case "filter":
		c.init, c.cond, c.res = &node{kind: listNode, pos: pos}, lit(true), accu()
		c.step = call(pos, opCond, args[1], call(pos, opAdd, accu(), &node{kind: listNode, pos: pos, args: []*node{v}}), accu())
	}
	return c
}
