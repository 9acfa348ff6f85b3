# lcte sandbox driver: the trusted Python that judges one sample.
#
# lcte embeds this file and starts it as `python -S -I -B -X utf8 -c <this
# file> MODE ...`. Threat model and protocol: docs/parts/sandbox.md.
#
# Two processes per sample, and the verdict belongs to the one that never runs
# sample code:
#   the judge  runs the suite's trusted setup, prompt helpers, tests and check,
#              and alone talks to the harness (the report socket);
#   the sample runs the completion and answers the judge's calls.
# They share nothing but a socket on which only plain data travels (None,
# bool, int, float, complex, str, bytes, bytearray, range, Decimal, Fraction,
# Ellipsis, the builtins module's own classes (int, str, ValueError...) and
# lists, tuples, dicts, sets, frozensets, deques, OrderedDicts and Counters
# of them), decoded by a strict decoder: every other object stays in
# the sample and the judge holds an opaque handle to it, on which it can call,
# get and set attributes and items, iterate, take len/bool/str/repr, and
# compare by identity only. The sample never sees the tests, the expected
# values or the harness's socket, and its answers are data: the most it can do
# is return a value.
#
# MODE "zygote PRELOAD JUDGE_UID SAMPLE_UID" (inside a jail with namespaces):
# descriptor 3 is the worker's control socket. The coordinator imports the
# preloaded modules and forks one judge zygote (which alone keeps compiled
# suites); per request the coordinator forks the sample and the judge zygote
# forks the judge. MODE "once JUDGE_UID SAMPLE_UID" (no namespaces): this
# process becomes the judge of one sample, descriptor 3 being the report
# socket, after forking the sample first so that it inherits nothing.
#
# Report socket (harness <-> judge; little-endian u32 length before a frame):
#   harness -> judge: one frame of six length-prefixed UTF-8 fields:
#                     setup, helpers, tests, check, code, token
#   judge -> harness: exactly one frame: a kind letter and four fields, joined
#   by NUL: kind, first, message, notes, end
#     P token  -               the tests and check ran to their end
#     S type   message         the code does not compile
#     F type   message         an assertion failed
#     M type   message         MemoryError
#     E type   message         another exception
#     T TimeLimit message      a call took longer than the tests allowed
#                              (__lcte_time_limit__(seconds) in the tests)
#     G reason -               the sample ended or broke the protocol before the
#                              tests finished ("the sample process ..." when it
#                              ended: the harness then looks at how)
#   notes: "redefined=NAME,NAME" when the completion redefines names that the
#   trusted prompt helpers define (the tests used the helpers' versions).
#   end: how the sample ended, "exit|signal V CPU KIB STOP" (once mode only;
#   in a worker the coordinator reports it).


def _lcte_codec(Remote=None, handle_of=None):
    # The value format shared by both sides: (encode, decode). encode(value)
    # -> bytes; decode(bytes) -> value, strict: anything malformed raises
    # _LcteProtocol. In the sample, handle_of(obj) registers an object that is
    # not plain data and returns its handle id and kind; in the judge, Remote
    # objects travel as their handle and nothing else unknown may be sent.
    # Bound now: in the sample these run after its code, which may have
    # replaced the builtins (builtins.len = ...).
    (len, type, isinstance, callable, getattr, setattr, iter, next, bool, repr, str, int, float, complex,
     bytes, bytearray, memoryview, list, tuple, dict, set, frozenset, range, chr, min, id, hash, all, zip,
     Exception, BaseException, TypeError, ValueError, OverflowError, MemoryError, RecursionError, SyntaxError,
     OSError) = _lcte_builtins()
    import _struct, _collections, sys
    from decimal import Decimal
    from fractions import Fraction
    deque, OrderedDict = _collections.deque, _collections.OrderedDict
    Counter = sys.modules['collections'].Counter
    q_pack, d_pack, c_pack, I_pack = (_struct.Struct(f).pack for f in ('<q', '<d', '<dd', '<I'))
    q_unpack, d_unpack, c_unpack, I_unpack = (_struct.Struct(f).unpack_from for f in ('<q', '<d', '<dd', '<I'))
    MAX_DEPTH = 200
    MAX_BYTES = 64 << 20
    import builtins as _builtins
    BUILTIN_CLASSES = {name: value for name, value in vars(_builtins).items() if type(value) is type}

    class TooBig(Exception):
        pass

    def put_bytes(tag, data, out):
        out += tag
        out += I_pack(len(data))
        out += data

    def put_int(v, out):
        if -(1 << 63) <= v < (1 << 63):
            out += b'i'
            out += q_pack(v)
        else:
            data = v.to_bytes((v.bit_length() + 8) // 8, 'little', signed=True)
            put_bytes(b'I', data, out)

    def put_items(tag, items, n, out, depth):
        out += tag
        out += I_pack(n)
        for x in items:
            enc(x, out, depth)

    def put_pairs(tag, d, out, depth):
        out += tag
        out += I_pack(len(d))
        for k, x in d.items():
            enc(k, out, depth)
            enc(x, out, depth)

    def enc(v, out, depth):
        t = type(v)
        if t is str:
            put_bytes(b's', v.encode('utf-8', 'surrogatepass'), out)
        elif t is int:
            put_int(v, out)
        elif v is None:
            out += b'N'
        elif v is True:
            out += b'T'
        elif v is False:
            out += b'F'
        elif t is float:
            out += b'f'
            out += d_pack(v)
        else:
            if depth >= MAX_DEPTH:
                raise RecursionError(f'sandbox: value nested more than {MAX_DEPTH} levels deep')
            if len(out) > MAX_BYTES:
                raise TooBig(f'sandbox: value larger than {MAX_BYTES >> 20} MiB')
            d = depth + 1
            if t is list:
                put_items(b'l', v, len(v), out, d)
            elif t is tuple:
                put_items(b't', v, len(v), out, d)
            elif t is dict:
                put_pairs(b'd', v, out, d)
            else:
                other(v, t, out, d)

    def other(v, t, out, d):
        if t is set:
            put_items(b'S', v, len(v), out, d)
        elif t is frozenset:
            put_items(b'Z', v, len(v), out, d)
        elif t is bytes:
            put_bytes(b'b', v, out)
        elif t is bytearray:
            put_bytes(b'a', bytes(v), out)
        elif t is complex:
            out += b'c'
            out += c_pack(v.real, v.imag)
        elif t is range:
            out += b'r'
            for x in (v.start, v.stop, v.step):
                put_int(x, out)
        elif t is OrderedDict:
            put_pairs(b'O', v, out, d)
        elif t is Counter:
            put_pairs(b'C', v, out, d)
        elif t is deque:
            out += b'q'
            enc(v.maxlen, out, d)
            put_items(b'l', v, len(v), out, d)
        elif t is Decimal:
            put_bytes(b'D', str(v).encode(), out)
        elif t is Fraction:
            out += b'Q'
            put_int(v.numerator, out)
            put_int(v.denominator, out)
        elif v is Ellipsis:
            out += b'E'
        elif t is type and BUILTIN_CLASSES.get(getattr(v, '__name__', None)) is v:
            put_bytes(b'B', v.__name__.encode(), out)  # int, str, ValueError: the same class on both sides
        elif Remote is not None and t is Remote:
            out += b'h'
            out += I_pack(v._lcte_id)
            out += v._lcte_kind.encode()
        elif handle_of is not None:
            plain = plain_of(v, t)
            if plain is not _NOT_PLAIN:
                enc(plain, out, d - 1)
            else:
                ident, kind = handle_of(v)
                out += b'h'
                out += I_pack(ident)
                out += kind
        else:
            raise TypeError(f'sandbox: a {t.__name__} cannot be passed to the sample')

    _NOT_PLAIN = object()

    def plain_of(v, t):
        # The sample side: subclasses of the plain types travel as the plain
        # value they hold (an int subclass as its int, a namedtuple as a
        # tuple, a defaultdict as a dict); they could only ever be compared as
        # such, and the judge decodes builtin values only.
        for base, convert in PLAIN_BASES:
            if isinstance(v, base):
                return convert(v)
        return _NOT_PLAIN

    PLAIN_BASES = ((bool, bool), (int, int.__int__), (float, float.__float__), (complex, complex.__complex__),
                   (str, str.__str__), (bytes, bytes), (bytearray, bytearray),
                   (OrderedDict, OrderedDict), (Counter, Counter), (dict, dict), (list, list), (tuple, tuple),
                   (set, set), (frozenset, frozenset), (deque, deque))

    def encode(v):
        out = bytearray()
        enc(v, out, 0)
        if len(out) > MAX_BYTES:
            raise TooBig(f'sandbox: value larger than {MAX_BYTES >> 20} MiB')
        return bytes(out)

    # ---- decoding -------------------------------------------------------
    def need(buf, pos, n):
        if n < 0 or pos + n > len(buf):
            raise _LcteProtocol('truncated value')

    def get_u32(buf, pos):
        need(buf, pos, 4)
        return I_unpack(buf, pos)[0], pos + 4

    def get_int(buf, pos):
        need(buf, pos, 1)
        tag = buf[pos]
        if tag == 105:  # 'i'
            need(buf, pos + 1, 8)
            return q_unpack(buf, pos + 1)[0], pos + 9
        if tag == 73:  # 'I'
            n, p = get_u32(buf, pos + 1)
            need(buf, p, n)
            return int.from_bytes(buf[p:p + n], 'little', signed=True), p + n
        raise _LcteProtocol('expected an integer')

    def get_items(buf, pos, depth):
        n, pos = get_u32(buf, pos)
        if n > len(buf) - pos:  # every item takes at least one byte
            raise _LcteProtocol('item count larger than the message')
        items = []
        for _ in range(n):
            x, pos = dec(buf, pos, depth)
            items.append(x)
        return items, pos

    def get_pairs(buf, pos, depth, into):
        n, pos = get_u32(buf, pos)
        if 2 * n > len(buf) - pos:
            raise _LcteProtocol('item count larger than the message')
        for _ in range(n):
            k, pos = dec(buf, pos, depth)
            x, pos = dec(buf, pos, depth)
            into[k] = x
        return into, pos

    def get_text(buf, pos):
        n, pos = get_u32(buf, pos)
        need(buf, pos, n)
        return bytes(buf[pos:pos + n]), pos + n

    def dec(buf, pos, depth):
        need(buf, pos, 1)
        tag = buf[pos]
        pos += 1
        if tag == 115:  # 's'
            data, pos = get_text(buf, pos)
            return data.decode('utf-8', 'surrogatepass'), pos
        if tag == 105 or tag == 73:
            return get_int(buf, pos - 1)
        if tag == 78:
            return None, pos
        if tag == 84:
            return True, pos
        if tag == 70:
            return False, pos
        if tag == 102:  # 'f'
            need(buf, pos, 8)
            return d_unpack(buf, pos)[0], pos + 8
        if depth >= MAX_DEPTH:
            raise _LcteProtocol(f'value nested more than {MAX_DEPTH} levels deep')
        d = depth + 1
        if tag == 108:  # 'l'
            return get_items(buf, pos, d)
        if tag == 116:  # 't'
            items, pos = get_items(buf, pos, d)
            return tuple(items), pos
        if tag == 100:  # 'd'
            return get_pairs(buf, pos, d, {})
        if tag == 83:  # 'S'
            items, pos = get_items(buf, pos, d)
            return set(items), pos
        if tag == 90:  # 'Z'
            items, pos = get_items(buf, pos, d)
            return frozenset(items), pos
        if tag == 98:  # 'b'
            return get_text(buf, pos)
        if tag == 97:  # 'a'
            data, pos = get_text(buf, pos)
            return bytearray(data), pos
        if tag == 99:  # 'c'
            need(buf, pos, 16)
            re, im = c_unpack(buf, pos)
            return complex(re, im), pos + 16
        if tag == 114:  # 'r'
            start, pos = get_int(buf, pos)
            stop, pos = get_int(buf, pos)
            step, pos = get_int(buf, pos)
            if step == 0:
                raise _LcteProtocol('range step 0')
            return range(start, stop, step), pos
        if tag == 79:  # 'O'
            return get_pairs(buf, pos, d, OrderedDict())
        if tag == 67:  # 'C'
            return get_pairs(buf, pos, d, Counter())
        if tag == 113:  # 'q'
            maxlen, pos = dec(buf, pos, d)
            if maxlen is not None and (type(maxlen) is not int or maxlen < 0):
                raise _LcteProtocol('bad deque length')
            need(buf, pos, 1)
            if buf[pos] != 108:
                raise _LcteProtocol('bad deque')
            items, pos = get_items(buf, pos + 1, d)
            return deque(items, maxlen), pos
        if tag == 68:  # 'D'
            data, pos = get_text(buf, pos)
            try:
                return Decimal(data.decode('ascii')), pos
            except Exception:
                raise _LcteProtocol('bad Decimal') from None
        if tag == 81:  # 'Q'
            num, pos = get_int(buf, pos)
            den, pos = get_int(buf, pos)
            if den <= 0:
                raise _LcteProtocol('bad Fraction')
            return Fraction(num, den), pos
        if tag == 69:  # 'E'
            return Ellipsis, pos
        if tag == 66:  # 'B'
            data, pos = get_text(buf, pos)
            cls = BUILTIN_CLASSES.get(data.decode('ascii', 'replace'))
            if cls is None:
                raise _LcteProtocol('unknown builtin class')
            return cls, pos
        if tag == 104:  # 'h'
            ident, pos = get_u32(buf, pos)
            need(buf, pos, 1)
            kind = chr(buf[pos])
            if kind not in 'fco':
                raise _LcteProtocol('bad handle kind')
            return on_handle(ident, kind), pos + 1
        raise _LcteProtocol(f'unknown tag {tag}')

    def on_handle(ident, kind):
        if Remote is not None:
            return Remote._lcte_get(ident, kind)
        return handle_of.lookup(ident)

    def decode(buf, pos=0):
        try:
            value, end = dec(buf, pos, 0)
        except _LcteProtocol:
            raise
        except (TypeError, ValueError, OverflowError, MemoryError) as e:
            # an unhashable key, a bad number: not a value this format allows
            raise _LcteProtocol(f'undecodable value ({type(e).__name__}: {e})') from None
        if end != len(buf):
            raise _LcteProtocol('trailing bytes after a value')
        return value

    return encode, decode, TooBig


def _lcte_digest(sha256, salt, value, type=type, repr=repr, list=list, tuple=tuple):
    # sha256 of the salt and the value's repr, a list's or tuple's element by
    # element so that a value of gigabytes never becomes one string.
    h = sha256(salt)
    if type(value) is list or type(value) is tuple:
        h.update(b'[' if type(value) is list else b'(')
        for x in value:
            h.update(repr(x).encode('utf-8', 'surrogatepass'))
            h.update(b'\x00')
    else:
        h.update(repr(value).encode('utf-8', 'surrogatepass'))
    return h.hexdigest()


def _lcte_builtins():
    import builtins as b
    return (b.len, b.type, b.isinstance, b.callable, b.getattr, b.setattr, b.iter, b.next, b.bool, b.repr, b.str,
            b.int, b.float, b.complex, b.bytes, b.bytearray, b.memoryview, b.list, b.tuple, b.dict, b.set,
            b.frozenset, b.range, b.chr, b.min, b.id, b.hash, b.all, b.zip, b.Exception, b.BaseException,
            b.TypeError, b.ValueError, b.OverflowError, b.MemoryError, b.RecursionError, b.SyntaxError, b.OSError)


class _LcteProtocol(Exception):
    # The other side sent something this format does not allow.
    pass


class _LcteBroken(BaseException):
    # Raised in the judge when the sample process is gone or broke the
    # protocol. A BaseException so that `except Exception` in a test does not
    # swallow it; and a bare `except:` cannot help either: the judge
    # remembers and refuses to pass.
    pass


def _lcte_framing():
    # u32-length-prefixed frames on a blocking descriptor: (send, recv).
    # Bound now: in the sample these run after its code, which may have
    # replaced the builtins (builtins.len = ...).
    (len, type, isinstance, callable, getattr, setattr, iter, next, bool, repr, str, int, float, complex,
     bytes, bytearray, memoryview, list, tuple, dict, set, frozenset, range, chr, min, id, hash, all, zip,
     Exception, BaseException, TypeError, ValueError, OverflowError, MemoryError, RecursionError, SyntaxError,
     OSError) = _lcte_builtins()
    import posix, _struct
    I_pack, I_unpack = _struct.Struct('<I').pack, _struct.Struct('<I').unpack
    write, read = posix.write, posix.read

    def send(fd, payload):
        data = memoryview(I_pack(len(payload)) + payload)
        while data:
            data = data[write(fd, data):]

    def recv_exact(fd, n):
        chunks, got = [], 0
        while got < n:
            chunk = read(fd, min(n - got, 1 << 20))
            if not chunk:
                return None
            chunks.append(chunk)
            got += len(chunk)
        return b''.join(chunks)

    def recv(fd, limit):
        head = recv_exact(fd, 4)
        if head is None:
            return None
        n = I_unpack(head)[0]
        if n > limit:
            raise _LcteProtocol(f'message of {n} bytes is over the limit')
        return recv_exact(fd, n)

    return send, recv


def _lcte_fields(frame, count):
    out, pos = [], 0
    for _ in range(count):
        n = int.from_bytes(frame[pos:pos + 4], 'little')
        out.append(frame[pos + 4:pos + 4 + n].decode('utf-8', 'replace'))
        pos += 4 + n
    return out


def _lcte_first_line(text, limit=400, len=len):
    text = text.strip().split('\n', 1)[0] if text else ''
    return text if len(text) <= limit else text[:limit] + '...'


# ---- the sample ---------------------------------------------------------

def _lcte_sample_kit():
    # What the sample process needs, made once in the coordinator before it
    # forks (importing an extension module or building closures in every
    # forked child costs milliseconds of copy-on-write faults) and exercised
    # once so that the child finds warm code. Holds no sample's state: the
    # handle table is empty when a child is forked.
    import posix, builtins, _struct
    len, type, isinstance, callable, id = builtins.len, builtins.type, builtins.isinstance, builtins.callable, builtins.id
    objects, ids, kinds = {}, {}, {}
    CLASS, FUNCTION, OBJECT = b'c', b'f', b'o'

    class Handles:
        def __call__(self, obj):
            key = id(obj)
            ident = ids.get(key)
            if ident is None or objects[ident] is not obj:
                ident = len(objects) + 1
                objects[ident] = obj  # kept alive so that its id stays unique
                ids[key] = ident
                kinds[ident] = CLASS if isinstance(obj, type) else FUNCTION if callable(obj) else OBJECT
            return ident, kinds[ident]

        def lookup(self, ident):
            if ident not in objects:
                raise _LcteProtocol(f'no object with handle {ident}')
            return objects[ident]

        def clear(self):
            objects.clear(), ids.clear(), kinds.clear()

    handles = Handles()
    encode, decode, too_big = _lcte_codec(handle_of=handles)
    send_frame, recv_frame = _lcte_framing()
    decode(encode(_lcte_warm_value(handles)))
    handles.clear()
    return {
        'handles': handles, 'encode': encode, 'decode': decode, 'too_big': too_big,
        'send': send_frame, 'recv': recv_frame, 'exit': posix._exit,
        'I_unpack': _struct.Struct('<I').unpack_from, 'I_pack': _struct.Struct('<I').pack,
        'sha256': __import__('hashlib').sha256,
        'classes': {id(v): v for v in vars(builtins).values() if isinstance(v, type)},
    }


def _lcte_warm_value(handles=None):
    # One of each kind of value the codec carries, to run every path once.
    from decimal import Decimal
    from fractions import Fraction
    import collections
    value = [None, True, False, 1, 1 << 70, -2.5, 1j, 'text', b'b', bytearray(b'a'), range(3), (1,), {1: 'a'},
             {2}, frozenset({3}), collections.deque([1], 4), collections.OrderedDict(a=1),
             collections.Counter('ab'), Decimal('1.5'), Fraction(1, 3), Ellipsis, int, ValueError]
    if handles is not None:
        value.append(object())
    return value


def _lcte_sample_main(rpc, kit):
    # Runs the completion and answers the judge's requests until told to
    # stop. Holds nothing worth stealing: no tests, no expected values, no
    # token, no descriptor to the harness.
    # Bound now: in the sample these run after its code, which may have
    # replaced the builtins (builtins.len = ...).
    (len, type, isinstance, callable, getattr, setattr, iter, next, bool, repr, str, int, float, complex,
     bytes, bytearray, memoryview, list, tuple, dict, set, frozenset, range, chr, min, id, hash, all, zip,
     Exception, BaseException, TypeError, ValueError, OverflowError, MemoryError, RecursionError, SyntaxError,
     OSError) = _lcte_builtins()
    import sys, builtins
    handles, encode, decode, TooBig = kit['handles'], kit['encode'], kit['decode'], kit['too_big']
    send_frame, recv_frame, exit_now = kit['send'], kit['recv'], kit['exit']
    I_unpack, I_pack, builtin_classes, sha256 = kit['I_unpack'], kit['I_pack'], kit['classes'], kit['sha256']

    def reply(kind, payload=b''):
        send_frame(rpc, kind + payload)

    def exception_payload(e):
        # The first builtin class in its MRO (a sample's own exception class
        # becomes its builtin base), its own name, message and where.
        base = 'Exception'
        for c in type(e).__mro__:
            if builtin_classes.get(id(c)) is c:
                base = c.__name__
                break
        try:
            message = _lcte_first_line(str(e), 1000)
        except BaseException:
            message = '<the exception message could not be printed>'
        spot = ''
        tb = e.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == '<completion>':
                spot = f'completion line {tb.tb_lineno}'
            tb = tb.tb_next
        return encode((base, type(e).__name__, message, spot))

    def flush():
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass

    first = recv_frame(rpc, 1 << 30)
    if first is None or first[:1] != b'C':
        exit_now(3)
    setup, code = decode(memoryview(first)[1:])
    del first
    try:
        compiled = compile(code, '<completion>', 'exec', dont_inherit=True)
    except (SyntaxError, ValueError) as e:
        line = e.lineno if isinstance(e, SyntaxError) and e.lineno else 0
        msg = e.msg if isinstance(e, SyntaxError) else str(e)
        reply(b'S', encode((type(e).__name__, _lcte_first_line(msg), line)))
        exit_now(0)
    except BaseException as e:
        reply(b'X', exception_payload(e))
        exit_now(0)

    # As in one interpreter running setup + code: the suite's imports are
    # there for the code too. exec() adds __builtins__ (the builtins dict).
    ns = {'__name__': '__lcte_sample__'}
    # -S drops site's exit() and quit(); give the sample the usual ones.
    builtins.exit = builtins.quit = _lcte_exit
    try:
        if setup:
            exec(compile(setup, '<setup>', 'exec', dont_inherit=True), ns)
        exec(compiled, ns)
    except BaseException as e:
        flush()
        reply(b'X', exception_payload(e))
        exit_now(0)

    ModuleType = type(sys)
    exports = []
    for name, value in list(ns.items()):
        if name.startswith('__') and name.endswith('__'):
            continue
        line = 0
        code_of = getattr(value, '__code__', None) if type(value).__name__ == 'function' else None
        if code_of is not None and code_of.co_filename == '<completion>':
            line = code_of.co_firstlineno
        if type(value) is ModuleType:
            exports.append((name, ('module', value.__name__), line))
            continue
        try:
            encode(value)  # plain and small enough to send by value
            exports.append((name, ('value', value), line))
        except (TooBig, RecursionError):
            exports.append((name, ('handle', handles(value)[0]), line))
    try:
        payload = encode(exports)
    except BaseException as e:
        reply(b'X', exception_payload(e))
        exit_now(0)
    reply(b'R', payload)

    def serve(op, body):
        h = I_unpack(body, 0)[0]
        target = handles.lookup(h)
        rest = body[4:]
        if op == 99:  # 'c' call: (args, kwargs)
            args, kwargs = decode(rest)
            return target(*args, **kwargs)
        if op == 103:  # 'g' getattr
            return getattr(target, decode(rest))
        if op == 115:  # 's' setattr
            name, value = decode(rest)
            setattr(target, name, value)
            return None
        if op == 120:  # 'x' getitem
            return target[decode(rest)]
        if op == 121:  # 'y' setitem
            key, value = decode(rest)
            target[key] = value
            return None
        if op == 105:  # 'i' iter
            return iter(target)
        if op == 110:  # 'n' next
            return next(target)
        if op == 108:  # 'l' len
            return len(target)
        if op == 98:  # 'b' bool
            return bool(target)
        if op == 114:  # 'r' repr
            return repr(target)
        if op == 116:  # 't' str
            return str(target)
        if op == 100:  # 'd' digest, for values too large to send
            return _lcte_digest(sha256, bytes(decode(rest)), target)
        raise _LcteProtocol(f'unknown request {op}')

    while True:
        msg = recv_frame(rpc, 1 << 30)
        if msg is None:
            flush()
            exit_now(0)
        op = msg[0]
        if op == 113:  # 'q'
            flush()
            reply(b'q')
            exit_now(0)
        try:
            result = serve(op, memoryview(msg)[1:])
            try:
                payload = encode(result)
            except TooBig:
                # Too large to send: the judge gets a handle, and can still
                # compare it by digest (op 'd').
                ident, kind = handles(result)
                payload = b'h' + I_pack(ident) + kind
        except BaseException as e:
            reply(b'E', exception_payload(e))
            continue
        reply(b'V', payload)


# ---- the judge ----------------------------------------------------------

def _lcte_remote_class(call):
    # The judge's stand-in for an object that lives in the sample. Operations
    # that only read the object travel as requests; comparisons never do: a
    # handle equals itself only (membership is decided here, by iterating),
    # and arithmetic is not defined, so an object cannot decide a test after
    # seeing the expected answer.
    cache = {}
    get = object.__getattribute__

    def remote_of(ident, kind):
        # One stand-in per handle, so that identity in the sample is identity here.
        r = cache.get(ident)
        if r is None:
            r = object.__new__(Remote)
            object.__setattr__(r, '_lcte_id', ident)
            object.__setattr__(r, '_lcte_kind', kind)
            cache[ident] = r
        return r

    class Remote:
        __slots__ = ('_lcte_id', '_lcte_kind', '__weakref__')
        _lcte_get = staticmethod(remote_of)

        def __call__(self, *args, **kwargs):
            return call(b'c', get(self, '_lcte_id'), (args, kwargs))

        def __getattr__(self, name):
            return call(b'g', get(self, '_lcte_id'), name)

        def __setattr__(self, name, value):
            call(b's', get(self, '_lcte_id'), (name, value))

        def __getitem__(self, key):
            return call(b'x', get(self, '_lcte_id'), key)

        def __setitem__(self, key, value):
            call(b'y', get(self, '_lcte_id'), (key, value))

        def __iter__(self):
            return call(b'i', get(self, '_lcte_id'), None)

        def __next__(self):
            return call(b'n', get(self, '_lcte_id'), None)

        def __len__(self):
            n = call(b'l', get(self, '_lcte_id'), None)
            if type(n) is not int:
                raise TypeError('sandbox: len() of a sample object is not an int')
            return n

        def __bool__(self):
            b = call(b'b', get(self, '_lcte_id'), None)
            if type(b) is not bool:
                raise TypeError('sandbox: bool() of a sample object is not a bool')
            return b

        def __repr__(self):
            s = call(b'r', get(self, '_lcte_id'), None)
            return s if type(s) is str else '<sample object>'

        def __str__(self):
            s = call(b't', get(self, '_lcte_id'), None)
            return s if type(s) is str else '<sample object>'

        def __eq__(self, other):
            return True if other is self else NotImplemented

        def __ne__(self, other):
            return False if other is self else NotImplemented

        def __hash__(self):
            return hash(('lcte-handle', get(self, '_lcte_id')))

        def __contains__(self, item):
            for x in self:
                if x is item or x == item:
                    return True
            return False

    return Remote


def _lcte_judge_kit():
    # What the judge needs, made once in the judge zygote before it forks
    # (see _lcte_sample_kit); `bind(call)` gives the handles their channel.
    import builtins, _struct
    channel = []

    def call(op, ident, argument):
        return channel[0](op, ident, argument)

    Remote = _lcte_remote_class(call)
    encode, decode, _too_big = _lcte_codec(Remote=Remote)
    send_frame, recv_frame = _lcte_framing()
    decode(encode(_lcte_warm_value()))
    return {
        'Remote': Remote, 'encode': encode, 'decode': decode, 'send': send_frame, 'recv': recv_frame,
        'I_pack': _struct.Struct('<I').pack, 'bind': channel.append, 'sha256': __import__('hashlib').sha256,
        'exceptions': {name: value for name, value in vars(builtins).items()
                       if isinstance(value, type) and issubclass(value, Exception)},
    }


def _lcte_judge_main(report, rpc, prepared, kit, sample_end=None):
    # Reads the program from the harness, hands the code to the sample, runs
    # the trusted parts with the sample's names as handles, and sends the one
    # report. `sample_end()` (once mode) says how the sample ended.
    import posix, sys
    send_frame, recv_frame, I_pack = kit['send'], kit['recv'], kit['I_pack']
    encode, decode, Remote, exceptions = kit['encode'], kit['decode'], kit['Remote'], kit['exceptions']
    broken = []  # why the sample can no longer be trusted to answer, if it cannot
    limit, timed_out = [None], []  # the tests' bound on one call, and whether a call passed it
    from select import select as select_
    from time import perf_counter

    def report_frame(kind, first, message, notes_text):
        end = sample_end() if sample_end is not None else ''
        # Names and messages may come from the sample: no NUL may shift a field.
        fields = (kind, first, message, notes_text, end)
        payload = '\0'.join(str(f).replace('\0', ' ') for f in fields).encode('utf-8', 'replace')
        send_frame(report, payload)
        posix._exit(0)

    def brake(reason):
        if not broken:
            broken.append(reason)
        raise _LcteBroken(broken[0])

    def set_time_limit(seconds):
        # The tests may bound each call (EvalPlus: a multiple of the
        # reference's time for the same input); None lifts the bound.
        limit[0] = None if seconds is None else float(seconds)

    def exchange(payload):
        if broken:
            raise _LcteBroken(broken[0])
        try:
            send_frame(rpc, payload)
            if limit[0] is not None and not select_([rpc], [], [], limit[0])[0]:
                timed_out.append(limit[0])
                brake(f'the sample took more than {limit[0]:.3g} s to answer one call')
            answer = recv_frame(rpc, 1 << 30)
        except OSError as e:
            brake(f'the sample process is gone ({e.strerror})')
        except _LcteProtocol as e:
            brake(f'the sample broke the protocol: {e}')
        if answer is None:
            brake('the sample process ended')
        return answer

    def call(op, ident, argument):
        payload = op + I_pack(ident) + encode(argument)
        answer = exchange(payload)
        kind = answer[:1]
        try:
            if kind == b'V':
                return decode(answer, 1)
            if kind == b'E':
                base, name, message, spot = decode(answer, 1)
        except _LcteProtocol as e:
            brake(f'the sample broke the protocol: {e}')
        if kind != b'E' or not all(type(x) is str for x in (base, name, message, spot)):
            brake('the sample broke the protocol: unexpected answer')
        if op == b'c' and base in ('StopIteration', 'StopAsyncIteration'):
            # As PEP 479 does for generators: a call that raises StopIteration
            # would otherwise silently end whatever loop is consuming it
            # (all(map(candidate, cases)) would then pass).
            raise RuntimeError(f'the sample raised {name} from a call')
        raise sample_exception(base, name, message, spot)

    def sample_exception(base, name, message, spot):
        # The builtin class it derives from, raised here with its message; a
        # sample that ends itself (SystemExit, KeyboardInterrupt) in a call
        # has given no answer.
        cls = exceptions.get(base)
        if cls is None:
            brake(f'the sample raised {name} during a call')
        where = f' (raised by the sample: {name}' + (f', {spot}' if spot else '') + ')'
        try:
            e = cls(message + where if message or where else '')
        except BaseException:
            e = Exception(f'{name}: {message}{where}')
        return e

    kit['bind'](call)

    head = recv_frame(report, 1 << 30)
    if head is None:
        posix._exit(3)
    setup, helpers, tests, check, code, token = _lcte_fields(head, 6)
    del head

    # The trusted parts compile first, so that a broken suite is not blamed on
    # the sample; a judge zygote may have compiled them already.
    if prepared is not None and prepared[:4] == (setup, helpers, tests, check):
        suite = prepared[4]
    else:
        suite = _lcte_compile_suite(setup, helpers, tests, check)
    del prepared
    notes = []

    def finish_with(e):
        t = type(e)
        if t is _LcteBroken:
            gone(str(e))
        try:
            message = _lcte_first_line(str(e))
        except BaseException:
            message = '<the exception message could not be printed>'
        spot = ''
        tb = e.__traceback__
        while tb is not None:
            name = tb.tb_frame.f_code.co_filename
            if name in ('<setup>', '<helpers>', '<tests>', '<check>'):
                spot = f' ({name[1:-1]} line {tb.tb_lineno})'
            tb = tb.tb_next
        if broken:
            gone(broken[0])
        kind = 'M' if isinstance(e, MemoryError) else 'F' if isinstance(e, AssertionError) else 'E'
        report_frame(kind, t.__name__, (message + spot).strip(), ';'.join(notes))

    def gone(reason):
        if timed_out:
            report_frame('T', 'TimeLimit', reason, ';'.join(notes))
        report_frame('G', reason, '', ';'.join(notes))

    if suite[0] != 'ok':
        report_frame('E', 'SuiteError', suite[1], '')
    _ok, setup_code, helpers_code, tests_code, check_code = suite

    try:
        answer = exchange(b'C' + encode((setup, code)))
        kind = answer[:1]
        if kind == b'S':
            name, message, line = decode(answer, 1)
            report_frame('S', str(name), str(message) + (f' (line {line})' if line else ''), '')
        if kind == b'X':
            base, name, message, spot = decode(answer, 1)
            _lcte_sample_failed(base, name, message, spot, report_frame)
        if kind != b'R':
            brake('the sample broke the protocol: unexpected first answer')
        exports = decode(answer, 1)
    except _LcteBroken as e:
        gone(str(e))
    except _LcteProtocol as e:
        gone(f'the sample broke the protocol: {e}')

    ns = {'__name__': '__lcte_sample__'}  # exec adds __builtins__, the builtins dict
    lines = {}
    def digest(value, salt):
        # sha256(salt + repr(value)): computed by the sample for a handle on a
        # value too large to send, here for the judge's own. The sample
        # cannot produce a matching digest without the right value: the salt
        # is fresh and its own.
        if type(value) is Remote:
            result = call(b'd', value._lcte_id, salt)
            if type(result) is not str:
                brake('the sample broke the protocol: a digest that is not text')
            return result
        return _lcte_digest(kit['sha256'], bytes(salt), value)

    def transfer_time(value):
        # Seconds the harness itself needs to carry `value` across (measured
        # by encoding it here, stopping where a value too large to send
        # would): time limits on a call add this, so that they bound the
        # sample's computation, not lcte's plumbing.
        started = perf_counter()
        try:
            encode(value)
        except BaseException:
            pass
        return perf_counter() - started

    judge_names = {'__lcte_time_limit__': set_time_limit, '__lcte_digest__': digest,
                   '__lcte_transfer_time__': transfer_time,
                   '__lcte_is_handle__': lambda value: type(value) is Remote}
    if type(exports) is not list:
        gone('the sample broke the protocol: bad exports')
    for entry in exports:
        try:
            name, (how, value), line = entry
        except (TypeError, ValueError):
            gone('the sample broke the protocol: bad export')
        if type(name) is not str or type(line) is not int or how not in ('module', 'value', 'handle') \
                or (how == 'handle' and type(value) is not int):
            gone('the sample broke the protocol: bad export')
        if how == 'module':
            # A module the completion imported under its own name (tests may
            # rely on it, as they would in one interpreter): the judge's own copy.
            if type(value) is str and value.rsplit('.', 1)[-1] == name or value.split('.', 1)[0] == name:
                try:
                    __import__(value)
                    ns[name] = sys.modules[value.split('.', 1)[0]] if value.split('.', 1)[0] == name \
                        else sys.modules[value]
                except BaseException:
                    pass
            continue
        ns[name] = Remote._lcte_get(value, 'o') if how == 'handle' else value
        lines[name] = line

    ns.update(judge_names)  # the judge's own, whatever the sample named its globals
    try:
        before = dict(ns)
        exec(helpers_code, ns)
        # Names the trusted prompt defines are the prompt's when the tests run;
        # say which ones the completion redefined (a definition after the
        # prompt's own lines).
        cut = helpers.count('\n') + (0 if helpers.endswith('\n') or not helpers else 1) \
            if code.startswith(helpers) else 0
        redefined = sorted(name for name in ns if name in before and ns[name] is not before[name]
                           and lines.get(name, 0) > cut)
        if redefined:
            notes.append('redefined=' + ','.join(redefined))
        exec(setup_code, ns)
        exec(tests_code, ns)
        exec(check_code, ns)
    except BaseException as e:
        finish_with(e)
    if broken:
        gone(broken[0])
    try:
        answer = exchange(b'q')
    except _LcteBroken as e:
        gone(str(e))
    if answer != b'q':
        gone('the sample broke the protocol: no goodbye')
    report_frame('P', token, '', ';'.join(notes))


def _lcte_sample_failed(base, name, message, spot, report_frame):
    # The completion raised while it was being run (before any test).
    if not all(type(x) is str for x in (base, name, message, spot)):
        report_frame('G', 'the sample broke the protocol: bad exception', '', '')
        return
    kind = 'M' if base == 'MemoryError' else 'F' if base == 'AssertionError' else 'E'
    where = f' ({spot})' if spot else ''
    report_frame(kind, name, (message + where).strip(), '')


def _lcte_compile_suite(setup, helpers, tests, check):
    # ('ok', setup, helpers, tests, check code objects) or ('error', message)
    # for a suite that does not compile.
    try:
        return ('ok',) + tuple(compile(text, f'<{name}>', 'exec', dont_inherit=True)
                               for name, text in (('setup', setup), ('helpers', helpers),
                                                  ('tests', tests), ('check', check)))
    except BaseException as e:
        if isinstance(e, SyntaxError):
            detail = f'{_lcte_first_line(e.msg)} ({str(e.filename)[1:-1]} line {e.lineno})'
        else:
            detail = _lcte_first_line(str(e))
        return ('error', f'{type(e).__name__} in the suite: {detail}')


def _lcte_exit(code=None):
    raise SystemExit(code)


# ---- processes, limits, zygotes -----------------------------------------

def _lcte_undumpable():
    # Where judge and sample share a uid (no spare uid to give the judge), the
    # judge's memory and descriptors must still be out of the sample's reach:
    # a process that is not dumpable cannot be opened through /proc/PID/mem
    # or /proc/PID/fd by another without CAP_SYS_PTRACE (ptrace itself is
    # refused by the seccomp filter).
    import ctypes
    PR_SET_DUMPABLE = 4
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), 'prctl(PR_SET_DUMPABLE, 0)')


def _lcte_become(uid):
    # Drop to `uid` (clears every capability); no-op for -1.
    import posix
    if uid < 0:
        return
    posix.setgroups([])
    posix.setresgid(uid, uid, uid)
    posix.setresuid(uid, uid, uid)


def _lcte_set_limits(values):
    # values: address space, CPU seconds, file size, processes, open files (0 = keep)
    import resource
    ids = (resource.RLIMIT_AS, resource.RLIMIT_CPU, resource.RLIMIT_FSIZE,
           resource.RLIMIT_NPROC, resource.RLIMIT_NOFILE)
    for rid, value in zip(ids, values):
        if value > 0:
            resource.setrlimit(rid, (value, value + 1 if rid == resource.RLIMIT_CPU else value))


def _lcte_start_sample(out_fd, err_fd, rpc_fd, limits, uid, workdir, kit):
    # Fork the sample process: its descriptors are stdout, stderr and the
    # socket to the judge, nothing else. Returns its pid.
    import posix, _signal
    pid = posix.fork()
    if pid:
        return pid
    try:
        posix.dup2(rpc_fd, 3)
        posix.dup2(out_fd, 1)
        posix.dup2(err_fd, 2)
        posix.closerange(4, 1 << 16)
        _lcte_set_limits(limits)
        if workdir:
            posix.chdir(workdir)
        _lcte_become(uid)
        _signal.signal(_signal.SIGINT, _signal.default_int_handler)
        _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)
        _lcte_sample_main(3, kit)
    except BaseException as e:
        try:
            posix.write(2, f'lcte sandbox: sample setup failed: {e!r}\n'.encode())
        finally:
            posix._exit(126)
    posix._exit(0)


def _lcte_end_text(status, usage, stop=0):
    import posix
    if posix.WIFEXITED(status):
        kind, value = 'exit', posix.WEXITSTATUS(status)
    else:
        kind, value = 'signal', posix.WTERMSIG(status)
    cpu = usage.ru_utime + usage.ru_stime
    return f'{kind} {value} {cpu:.6f} {usage.ru_maxrss} {stop}'


def _lcte_wait_child(pid, watch=None, on_watch=None):
    # Wait for `pid` while polling `watch` (a socket) for kill requests;
    # a child that stops itself is killed. Returns (status, rusage, stop).
    import posix, select
    pidfd = posix.pidfd_open(pid)
    stop = 0
    try:
        while True:
            ready, _, _ = select.select([pidfd] + ([watch] if watch is not None else []), [], [], 0.05)
            if watch is not None and watch in ready:
                on_watch()
            done, status, usage = posix.wait4(pid, posix.WNOHANG | posix.WUNTRACED)
            if done and posix.WIFSTOPPED(status):
                stop = stop or posix.WSTOPSIG(status)
                posix.kill(pid, 9)
            elif done:
                return status, usage, stop
    finally:
        posix.close(pidfd)


def _lcte_once(judge_uid, sample_uid):
    # No namespaces: this process becomes the judge; the sample is forked
    # first, before anything of the program is read, and is reaped here.
    import posix, _socket, resource
    _lcte_undumpable()
    a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sample = _lcte_start_sample(1, 2, b.fileno(), (0, 0, 0, 0, 0), sample_uid, None, _lcte_sample_kit())
    b.close()
    null = posix.open('/dev/null', posix.O_RDWR)
    for fd in (0, 1, 2):
        posix.dup2(null, fd)
    posix.close(null)
    _lcte_become(judge_uid)
    ended = []

    def sample_end():
        if not ended:
            try:
                posix.kill(sample, 9)
            except OSError:
                pass
            status, usage, stop = _lcte_wait_child(sample)
            ended.append(_lcte_end_text(status, usage, stop))
        return ended[0]

    _lcte_judge_main(3, a.fileno(), None, _lcte_judge_kit(), sample_end)


def _lcte_judge_zygote(link, judge_uid):
    # Keeps the suites compiled (never any sample code) and forks one judge
    # per request. Link (SOCK_SEQPACKET to the coordinator): request
    # "LIMITS\n" + the suite's setup, helpers, tests and check (u32 length +
    # UTF-8 each, or nothing) with the report socket and the judge's end of
    # the sample socket attached; 'K' kills the judge; reply
    # "J exit|signal VALUE CPU MAXRSS_KIB STOP".
    import posix, _signal, gc
    if judge_uid >= 0:
        _lcte_become(judge_uid)  # a change of uid also makes it undumpable
    else:
        _lcte_undumpable()
    kit = _lcte_judge_kit()
    compiled = {}

    def prepare(frame):
        if not frame:
            return None
        entry = compiled.get(frame)
        if entry is None:
            parts, pos = [], 0
            for _ in range(4):
                n = int.from_bytes(frame[pos:pos + 4], 'little')
                if pos + 4 + n > len(frame):
                    return False
                parts.append(frame[pos + 4:pos + 4 + n].decode('utf-8', 'replace'))
                pos += 4 + n
            if pos != len(frame):
                return False
            entry = (*parts, _lcte_compile_suite(*parts))
            while len(compiled) >= 16:
                del compiled[next(iter(compiled))]
            compiled[frame] = entry
        return entry

    while True:
        try:
            msg, fds = _lcte_recv_fds(link, 4096 + (1 << 16), 2)
        except OSError:
            break
        if not msg:
            break
        header, _, suite = msg.partition(b'\n')
        try:
            limits = [int(x) for x in header.decode().split()]
        except ValueError:
            limits = []
        prepared = prepare(suite) if len(fds) == 2 and len(limits) == 5 else None
        if len(fds) != 2 or len(limits) != 5 or prepared is False:
            for fd in fds:
                posix.close(fd)
            link.sendall(b'X bad request')
            continue
        gc.freeze()  # the judge's collector then leaves the zygote's pages alone
        pid = posix.fork()
        if pid == 0:
            try:
                posix.dup2(fds[0], 3)
                posix.dup2(fds[1], 4)
                null = posix.open('/dev/null', posix.O_RDWR)
                for fd in (0, 1, 2):
                    posix.dup2(null, fd)
                posix.closerange(5, 1 << 16)
                _lcte_set_limits(limits)
                _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)
                _lcte_judge_main(3, 4, prepared, kit)
            except BaseException as e:
                posix._exit(125)
            posix._exit(0)
        for fd in fds:
            posix.close(fd)

        def on_kill():
            request = link.recv(64)
            if not request or request.startswith(b'K'):
                try:
                    posix.kill(pid, 9)
                except OSError:
                    pass
                if not request:
                    posix._exit(0)

        status, usage, stop = _lcte_wait_child(pid, link, on_kill)
        link.sendall(('J ' + _lcte_end_text(status, usage, stop)).encode())


def _lcte_zygote(preload, judge_uid, sample_uid):
    # The worker's coordinator: never runs sample code and never sees a test,
    # a token or a report socket's traffic (it only passes descriptors on).
    # Forks the judge zygote once, then per request the sample; afterwards it
    # kills every other process in the worker's PID namespace and empties the
    # work directory, so the next sample starts from the same state.
    #
    # Control socket (fd 3, SOCK_SEQPACKET): request "AS CPU FSIZE NPROC NOFILE\n"
    # + the suite part for the judge zygote, with three descriptors (stdout,
    # stderr, report socket) attached; 'K' kills the running sample and judge;
    # reply "R <sample end> <judge end>", each "exit|signal VALUE CPU KIB STOP".
    import sys, posix, _signal, _socket, time, gc
    for name in preload:
        try:
            __import__(name)
        except ImportError:
            pass
    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
    _signal.signal(_signal.SIGPIPE, _signal.SIG_IGN)
    ctl = _socket.socket(fileno=3)
    me = posix.getpid()
    WORK = '/tmp/w'
    JUDGE_MEMORY = 1 << 30
    _lcte_undumpable()

    # Extension modules the forked children use: loaded here once, not by
    # every child (each dlopen costs a child milliseconds).
    import select, array, resource
    kit = _lcte_sample_kit()
    link, link_child = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    judges = posix.fork()
    if judges == 0:
        try:
            link.close()
            ctl.detach()
            posix.closerange(3, link_child.fileno())
            posix.closerange(link_child.fileno() + 1, 1 << 16)
            _lcte_judge_zygote(link_child, judge_uid)
        finally:
            posix._exit(0)
    link_child.close()
    keep = (1, me, judges)

    def wipe(path):
        # Empty `path` without following links, recursion or long paths (a
        # sample may leave a very deep tree). False if anything is left.
        flags = posix.O_RDONLY | posix.O_DIRECTORY | posix.O_NOFOLLOW | posix.O_CLOEXEC
        try:
            stack = [posix.open(path, flags)]
        except OSError:
            return False
        clean = True
        while stack:
            fd = stack[-1]
            try:
                names = posix.listdir(fd)
            except OSError:
                names = []
            deeper = None
            for name in names:
                try:
                    posix.unlink(name, dir_fd=fd)
                    continue
                except OSError:
                    pass
                try:
                    posix.rmdir(name, dir_fd=fd)
                    continue
                except OSError:
                    pass
                try:
                    deeper = posix.open(name, flags, dir_fd=fd)
                    break
                except OSError:
                    clean = False
            if not clean:
                for fd in stack:
                    posix.close(fd)
                return False
            if deeper is not None:
                stack.append(deeper)
                continue
            stack.pop()
            posix.close(fd)
        return clean and not posix.listdir(path)

    def fresh_workdir():
        # A worker that cannot be put back exactly as it was is retired: the
        # harness sees the control socket close and starts a new one.
        try:
            posix.mkdir(WORK, 0o700)
        except FileExistsError:
            if not wipe(WORK):
                posix._exit(0)
        if sample_uid >= 0:
            posix.chown(WORK, sample_uid, sample_uid)
        posix.chmod(WORK, 0o700)

    def kill_others():
        # SIGKILL everything in the namespace but init, us and the judge
        # zygote until nothing is left; retire the worker if something will
        # not go.
        for _ in range(10000):
            others = [int(p) for p in posix.listdir('/proc') if p.isdigit() and int(p) not in keep]
            if not others:
                return True
            for pid in others:
                try:
                    posix.kill(pid, 9)
                except OSError:
                    pass
            try:
                while posix.waitpid(-1, posix.WNOHANG)[0] > 0:
                    pass
            except ChildProcessError:
                pass
            time.sleep(0.0002)
        return False

    fresh_workdir()
    ctl.sendall(b'ready')
    while True:
        try:
            msg, fds = _lcte_recv_fds(ctl, 4096 + (1 << 16), 3)
        except OSError:
            break
        if not msg:
            break
        header, _, suite = msg.partition(b'\n')
        try:
            limits = [int(x) for x in header.decode().split()]
        except ValueError:
            limits = []
        if len(fds) != 3 or len(limits) != 5:
            for fd in fds:
                posix.close(fd)
            ctl.sendall(b'X bad request')
            continue
        out_fd, err_fd, report_fd = fds
        a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
        # The judge's limits: the sample's CPU budget, the sample's memory or
        # what the judge itself needs if that is more, no files.
        judge_limits = [max(limits[0], JUDGE_MEMORY), limits[1], 1, 0, 64]
        try:
            _lcte_send_fds(link, ' '.join(map(str, judge_limits)).encode() + b'\n' + suite, [report_fd, a.fileno()])
        except OSError:
            posix._exit(0)  # the judge zygote is gone: retire the worker
        posix.close(report_fd)
        a.close()
        gc.freeze()
        sample = _lcte_start_sample(out_fd, err_fd, b.fileno(), limits, sample_uid, WORK, kit)
        b.close()
        posix.close(out_fd)
        posix.close(err_fd)

        sample_pidfd = posix.pidfd_open(sample)
        sample_end = judge_end = None
        sample_stop = 0
        while sample_end is None or judge_end is None:
            ready, _, _ = select.select([ctl, link] + ([sample_pidfd] if sample_end is None else []), [], [], 0.05)
            if ctl in ready:
                request = ctl.recv(64)
                if not request:  # the harness is gone
                    kill_others()
                    posix._exit(0)
                if request.startswith(b'K'):
                    for pid in (sample,):
                        try:
                            posix.kill(pid, 9)
                        except OSError:
                            pass
                    link.sendall(b'K')
            if link in ready:
                reply = link.recv(256)
                if not reply:
                    posix._exit(0)
                if reply.startswith(b'J '):
                    judge_end = reply[2:].decode()
                    if sample_end is None:
                        # The judge is done; the sample has had its goodbye.
                        deadline = time.monotonic() + 1.0
                        while sample_end is None and time.monotonic() < deadline:
                            done, status, usage = posix.wait4(sample, posix.WNOHANG | posix.WUNTRACED)
                            if done and not posix.WIFSTOPPED(status):
                                sample_end = _lcte_end_text(status, usage, sample_stop)
                            else:
                                time.sleep(0.0005)
                        if sample_end is None:
                            posix.kill(sample, 9)
            if sample_end is None:
                done, status, usage = posix.wait4(sample, posix.WNOHANG | posix.WUNTRACED)
                if done and posix.WIFSTOPPED(status):
                    sample_stop = sample_stop or posix.WSTOPSIG(status)
                    posix.kill(sample, 9)
                elif done:
                    sample_end = _lcte_end_text(status, usage, sample_stop)
        posix.close(sample_pidfd)
        alone = kill_others()
        ctl.sendall(f'R {sample_end} {judge_end}'.encode())
        if not alone:
            posix._exit(0)
        fresh_workdir()


def _lcte_recv_fds(sock, bufsize, maxfds):
    import _socket, array
    fds = array.array('i')
    msg, ancdata, _flags, _addr = sock.recvmsg(bufsize, _socket.CMSG_LEN(maxfds * fds.itemsize))
    for level, kind, data in ancdata:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - (len(data) % fds.itemsize)])
    return msg, list(fds)


def _lcte_send_fds(sock, msg, fds):
    import _socket, array
    sock.sendmsg([msg], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, array.array('i', fds))])


def _lcte_main():
    import sys
    mode = sys.argv[1]
    if mode == 'once':
        _lcte_once(int(sys.argv[2]), int(sys.argv[3]))
    else:
        _lcte_zygote([name for name in sys.argv[2].split(',') if name], int(sys.argv[3]), int(sys.argv[4]))


_lcte_main()
