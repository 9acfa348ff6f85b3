# lcte sandbox driver: the trusted Python that runs one sample inside the jail.
#
# lcte embeds this file and starts it as `python -S -I -B -c <this file> MODE`.
# MODE "once": descriptor 3 is a socket to the harness; read one program, run
# it, report, exit. MODE "zygote": descriptor 3 is the worker's control socket;
# preload common modules, then fork one confined child per request (see
# _lcte_zygote). Threat model and protocol: docs/parts/sandbox.md.
#
# Protocol on the sample socket (little-endian u32 length before every frame):
#   harness -> driver: one frame holding five length-prefixed UTF-8 fields:
#                      setup, code, tests, check, token
#   driver -> harness: exactly one frame: a kind letter, then fields joined by NUL
#     S type msg   the code does not compile        F type msg  an assertion failed
#     E type msg   another exception                M type msg  MemoryError
#     P token      tests and check ran to their end
# Only the driver knows the token (it arrives before any untrusted code runs and
# is kept where the sample cannot reach it: see _lcte_install_hook).


def _lcte_sample(allowed_pids, permit, prepared=None, checker=None):
    # permit(True) lifts the audit veto for a few C-level reads that call no
    # sample code; the function is only ever held in driver locals.
    import sys, builtins, gc, posix, _signal
    restore, require_alone, snapshot_now = _lcte_restore, _lcte_require_alone, _lcte_snapshot
    compile_suite, make_checker = _lcte_compile_suite, _lcte_checker

    # Everything the driver needs after untrusted code ran is bound here, before,
    # so that patched modules or builtins cannot redirect it.
    b = builtins.__dict__
    _type, _len, _dict, _list, _tuple, _str, _int = type, len, dict, list, tuple, str, int
    _exec, _compile, _isinstance, _frozenset = exec, compile, isinstance, frozenset
    _BaseException, _MemoryError, _AssertionError = BaseException, MemoryError, AssertionError
    _SyntaxError, _ValueError, _range = SyntaxError, ValueError, range
    traceback_of = BaseException.__dict__['__traceback__'].__get__
    TracebackType = type(traceback_of(_lcte_exception()))
    write, read, exit_now, listdir = posix.write, posix.read, posix._exit, posix.listdir
    set_blocking, getpid = posix.set_blocking, posix.getpid
    dict_get, dict_items, dict_keys = dict.get, dict.items, dict.keys
    type_name = type.__dict__['__name__'].__get__
    ModuleType = type(sys)
    module_dict = ModuleType.__dict__['__dict__'].__get__
    FunctionType, BuiltinFunctionType = type(_lcte_sample), type(len)
    gc_disable, sigmask, SIG_BLOCK = gc.disable, _signal.pthread_sigmask, _signal.SIG_BLOCK
    all_signals = _signal.valid_signals()
    CTL = 3
    reserve = _lcte_reserve()  # released on MemoryError so that reporting still works
    streams = (sys.stdout, sys.stderr)
    flush_stream = type(sys.stdout).flush  # the C method: an instance attribute cannot replace it

    def flush():
        # os._exit skips Python's own flush of print() output
        for stream in streams:
            try:
                flush_stream(stream)
            except _BaseException:
                pass

    def send(kind, *fields):
        flush()
        payload = '\0'.join((kind,) + fields).encode('utf-8', 'replace')
        data = _len(payload).to_bytes(4, 'little') + payload
        while data:
            data = data[write(CTL, data):]

    def recv_exact(n):
        out = b''
        while _len(out) < n:
            chunk = read(CTL, n - _len(out))
            if not chunk:
                exit_now(3)
            out += chunk
        return out

    def fields_of(frame, count):
        out, pos = [], 0
        for _ in range(count):
            n = _int.from_bytes(frame[pos:pos + 4], 'little')
            out.append(frame[pos + 4:pos + 4 + n].decode('utf-8', 'replace'))
            pos += 4 + n
        return out

    def first_line(text, limit=400):
        text = text.strip().split('\n', 1)[0] if text else ''
        return text if _len(text) <= limit else text[:limit] + '...'

    def where(e):
        # innermost frame that belongs to one of the program's parts; reads
        # only real traceback and frame objects (no sample code can run here)
        spot, tb = '', traceback_of(e)
        permit(True)
        try:
            while _type(tb) is TracebackType:
                name = tb.tb_frame.f_code.co_filename
                if _type(name) is _str and name in ('<setup>', '<completion>', '<tests>', '<check>'):
                    spot = f' ({name[1:-1]} line {tb.tb_lineno})'
                tb = tb.tb_next
        finally:
            permit(False)
        return spot

    def report(e):
        nonlocal reserve
        reserve = None
        t = _type(e)
        try:
            message = first_line(_str(e))
        except _BaseException:
            message = '<exception message could not be printed>'
        try:
            message = (message + where(e)).strip()
        except _BaseException:
            pass
        kind = 'M' if _isinstance(e, _MemoryError) else 'F' if _isinstance(e, _AssertionError) else 'E'
        send(kind, type_name(t), message)
        exit_now(0)

    set_blocking(CTL, True)
    frame = recv_exact(_int.from_bytes(recv_exact(4), 'little'))
    setup, code, tests, check, token = fields_of(frame, 5)
    del frame

    # The suite's parts are trusted; compile them first so that a broken suite
    # is not blamed on the sample. A zygote may have compiled them already
    # (its cache is keyed by their text; it is used only for the very same text).
    if prepared is not None and prepared[0] == setup and prepared[1] == tests and prepared[2] == check:
        suite = prepared[3]
    else:
        suite = compile_suite(setup, tests, check)
    if suite[0] != 'ok':
        send('E', 'SuiteError', suite[1])
        exit_now(0)
    _ok, setup_code, tests_code, check_code, suite_imports = suite
    del suite, prepared
    try:
        sample_code = _compile(code, '<completion>', 'exec', dont_inherit=True)
    except (_SyntaxError, _ValueError) as e:
        line = f' (line {e.lineno})' if _isinstance(e, _SyntaxError) and e.lineno else ''
        msg = e.msg if _isinstance(e, _SyntaxError) else _str(e)
        send('S', type_name(_type(e)), first_line(msg) + line)
        exit_now(0)
    except _BaseException as e:
        report(e)

    pristine_builtins = _dict(b)
    # exit() and quit() come from the site module, which -S skips; give the
    # sample the usual ones so that calling them means SystemExit, as usual.
    pristine_builtins.setdefault('exit', _lcte_exit)
    pristine_builtins.setdefault('quit', _lcte_exit)
    ns = {'__name__': '__lcte_sample__', '__builtins__': _dict(pristine_builtins)}
    try:
        _exec(setup_code, ns)
    except _BaseException as e:
        report(e)
    snapshot = snapshot_now(suite_imports)
    after_setup = _dict(ns)
    # A zygote makes the comparator once, before it forks (no sample has run
    # in it, and each child gets its own copy); otherwise it is made here.
    cmp, chain, guard = checker if checker is not None else make_checker()
    del checker

    try:
        _exec(sample_code, ns)
    except _BaseException as e:
        restore(snapshot, permit)
        report(e)
    restore(snapshot, permit)
    require_alone(allowed_pids, send, exit_now, listdir)

    # Tests run in a copy of the sample's namespace that the sample's own
    # functions (whose globals stay `ns`) cannot reach, with pristine builtins
    # and every function the sample defined wrapped so that what it returns is
    # turned into plain builtin values before the tests see it.
    tests_ns = _dict(ns)
    tests_ns['__builtins__'] = _dict(pristine_builtins)
    for name, value in _list(dict_items(ns)):
        if dict_get(after_setup, name) is not value and _type(value) in (FunctionType, BuiltinFunctionType):
            tests_ns[name] = guard(value)
    tests_ns['__lcte_cmp__'], tests_ns['__lcte_chain__'] = cmp, chain

    try:
        _exec(tests_code, tests_ns)
        _exec(check_code, tests_ns)
    except _BaseException as e:
        restore(snapshot, permit)
        report(e)

    # The tests ran to their end. Sample code could still run from a signal
    # handler, a finalizer or another thread or process; shut those out before
    # reporting (tracing cannot have been enabled: the audit hook refuses it).
    gc_disable()
    sigmask(SIG_BLOCK, all_signals)
    restore(snapshot, permit)
    require_alone(allowed_pids, send, exit_now, listdir)
    if dict_get(tests_ns, '__lcte_cmp__') is not cmp or dict_get(tests_ns, '__lcte_chain__') is not chain:
        send('E', 'SandboxViolation', 'the comparison helpers were replaced during the tests')
        exit_now(0)
    set_blocking(CTL, True)
    send('P', token)
    exit_now(0)


def _lcte_compile_suite(setup, tests, check, _compile=compile, _type=type, _str=str, _len=len,
                        _isinstance=isinstance, _SyntaxError=SyntaxError, _BaseException=BaseException):
    # The trusted parts compiled, comparisons in tests and check rewritten into
    # calls of the strict comparator (see _lcte_checker): ('ok', setup, tests,
    # check code, modules they import), or ('error', message) for a suite that
    # does not compile.
    def first_line(text, limit=400):
        text = text.strip().split('\n', 1)[0] if text else ''
        return text if _len(text) <= limit else text[:limit] + '...'

    rewrite = _lcte_rewrite
    try:
        setup_tree, setup_imports = rewrite(setup, '<setup>')
        tests_tree, tests_imports = rewrite(tests, '<tests>')
        check_tree, check_imports = rewrite(check, '<check>')
        setup_code = _compile(setup, '<setup>', 'exec', dont_inherit=True)
        tests_code = _compile(tests_tree, '<tests>', 'exec', dont_inherit=True)
        check_code = _compile(check_tree, '<check>', 'exec', dont_inherit=True)
        return ('ok', setup_code, tests_code, check_code, setup_imports + tests_imports + check_imports)
    except _BaseException as e:
        if _isinstance(e, _SyntaxError):
            detail = f'{first_line(e.msg)} ({_str(e.filename)[1:-1]} line {e.lineno})'
        else:
            detail = first_line(_str(e))
        return ('error', f'{_type(e).__name__} in the suite: {detail}')


def _lcte_reserve(size=1 << 20, _mmap=__import__('mmap')):
    # Address space held back for reporting a MemoryError. RLIMIT_AS counts
    # mappings, not touched pages, so an untouched private mapping does the
    # job of a zero-filled 1 MiB buffer without its 256 page faults (about
    # 1 ms of CPU in every forked sample); dropping it unmaps it.
    return _mmap.mmap(-1, size, flags=_mmap.MAP_PRIVATE)


def _lcte_require_alone(allowed_pids, send, exit_now, listdir, _sleep=__import__('time').sleep,
                        _len=len, _int=int, _str=str, _range=range):
    # Threads or processes the sample left running could act after the tests
    # (or between them); the sample does not pass while any exist. A thread
    # that was joined may still be leaving the kernel: retry briefly.
    for attempt in _range(50):
        threads = _len(listdir('/proc/self/task'))
        others = 0
        if allowed_pids:
            for p in listdir('/proc'):
                if _str.isdigit(p) and _int(p) not in allowed_pids:
                    others += 1
        if threads == 1 and others == 0:
            return
        _sleep(0.002)
    if threads != 1:
        send('E', 'LeftoverThreads', f'{threads - 1} thread(s) still running after the code ran')
    else:
        send('E', 'LeftoverProcesses', f'{others} process(es) still running after the code ran')
    exit_now(0)


def _lcte_snapshot(names):
    # What the tests can reach: builtins, sys and the modules the suite's own
    # code imports (imported here, before the sample runs). Copying every
    # loaded module's namespace would touch every object and, in a forked
    # zygote child, copy most of the heap.
    import sys, gc, builtins
    ModuleType = type(sys)
    wanted = ['builtins', 'sys']
    for name in names:
        try:
            __import__(name)
        except BaseException:
            continue  # the tests will fail on it themselves
        parts = name.split('.')
        wanted += ['.'.join(parts[:i]) for i in range(1, len(parts) + 1)]
    mods = {n: sys.modules[n] for n in wanted if n in sys.modules}
    dicts = [(m, dict(m.__dict__)) for m in mods.values() if type(m) is ModuleType]
    return (mods, dicts, list(sys.meta_path), list(sys.path_hooks), list(sys.path),
            list(gc.callbacks))


def _lcte_restore(snapshot, permit, _modules=__import__('sys').modules, _gc=__import__('gc'),
                  _sys=__import__('sys'), _type=type, _list=list, _ModuleType=type(__import__('sys')),
                  _object_setattr=object.__setattr__, _dict_get=dict.get, _sentinel=object(),
                  _module_dict=type(__import__('sys')).__dict__['__dict__'].__get__):
    # Undo what the sample did to the snapshot's modules: attributes
    # (math.isclose = ...), their class, their sys.modules entries; and to the
    # import hooks and gc callbacks.
    mods, dicts, meta_path, path_hooks, path, callbacks = snapshot
    for m, saved in dicts:
        if _type(m) is not _ModuleType:
            permit(True)  # object.__setattr__ on a C type's slot: no sample code runs
            try:
                _object_setattr(m, '__class__', _ModuleType)
            finally:
                permit(False)
        current = _module_dict(m)
        for key in _list(current):
            if key not in saved:
                del current[key]
        for key, value in saved.items():
            if _dict_get(current, key, _sentinel) is not value:
                current[key] = value
    for key, value in mods.items():
        if _dict_get(_modules, key) is not value:
            _modules[key] = value
    _sys.meta_path[:] = meta_path
    _sys.path_hooks[:] = path_hooks
    _sys.path[:] = path
    _sys.path_importer_cache.clear()
    _gc.callbacks[:] = callbacks


def _lcte_rewrite(source, filename):
    # Every comparison in the suite's tests becomes a call of the strict
    # comparator: `a == b` -> __lcte_cmp__('==', a, b); chains evaluate all
    # operands first. Uses _ast (builtin) because importing ast costs ~15 ms.
    # Also returns the modules the source imports.
    import _ast
    tree = compile(source, filename, 'exec', _ast.PyCF_ONLY_AST, dont_inherit=True)
    imports = []
    names = {_ast.Eq: '==', _ast.NotEq: '!=', _ast.Lt: '<', _ast.LtE: '<=', _ast.Gt: '>',
             _ast.GtE: '>=', _ast.In: 'in', _ast.NotIn: 'not in', _ast.Is: 'is', _ast.IsNot: 'is not'}

    def located(node, like):
        for attr in ('lineno', 'col_offset', 'end_lineno', 'end_col_offset'):
            setattr(node, attr, getattr(like, attr, None) if attr.startswith('end') else getattr(like, attr))
        return node

    def convert(node):
        if type(node) is not _ast.Compare:
            return node
        ops = [names[type(op)] for op in node.ops]
        if len(ops) == 1:
            func, args = '__lcte_cmp__', [_ast.Constant(value=ops[0]), node.left] + node.comparators
        else:
            func = '__lcte_chain__'
            args = [located(_ast.Tuple(elts=[located(_ast.Constant(value=o), node) for o in ops],
                                       ctx=_ast.Load()), node), node.left] + node.comparators
        args = [located(a, node) if type(a) is _ast.Constant else a for a in args]
        return located(_ast.Call(func=located(_ast.Name(id=func, ctx=_ast.Load()), node),
                                 args=args, keywords=[]), node)

    stack = [tree]
    while stack:
        node = stack.pop()
        if type(node) is _ast.Import:
            imports.extend(alias.name for alias in node.names)
        elif type(node) is _ast.ImportFrom and node.module and not node.level:
            imports.append(node.module)
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, _ast.AST):
                        value[i] = convert(item)
                        stack.append(value[i])
            elif isinstance(value, _ast.AST):
                value = convert(value)
                setattr(node, field, value)
                stack.append(value)
    return tree, imports


def _lcte_checker():
    # The strict comparator and the result guard. Values are first normalised
    # into plain builtin values (int, str, list, dict, ...) by the builtin
    # types' own C methods, which never call the sample's code with the other
    # operand: a sample can still return any plain value, but not an object
    # that decides equality after seeing the expected answer. Objects of the
    # sample's own classes are allowed only if they define no binary operator
    # (comparison or arithmetic), i.e. they compare by identity.
    # Every builtin and operator function is bound here, when the checker is
    # made: the sample's functions run while the tests do and could replace
    # builtins.bool or _operator.eq for a lookup made at call time.
    import _operator, _collections
    _type, _len, _issubclass, _bool, _tuple = type, len, issubclass, bool, tuple
    _getattr, _range, _frozenset = getattr, range, frozenset
    _list, _dict, _set, _int, _float, _complex, _str, _bytes = list, dict, set, int, float, complex, str, bytes
    eq, ne, lt, le, gt, ge = _operator.eq, _operator.ne, _operator.lt, _operator.le, _operator.gt, _operator.ge
    contains, is_, is_not = _operator.contains, _operator.is_, _operator.is_not
    flags = type.__dict__['__flags__'].__get__
    mro = type.__dict__['__mro__'].__get__
    tdict = type.__dict__['__dict__'].__get__
    tname = type.__dict__['__name__'].__get__
    HEAPTYPE = 1 << 9
    # Keyed by id(): a metaclass may define __eq__ and __hash__ for classes,
    # so membership of the type object itself could be faked. The entries hold
    # the types, so their ids cannot be reused.
    ATOMS = {id(t): t for t in (int, float, complex, bool, str, bytes, type(None), type(...),
                                type(NotImplemented), range)}
    _id = id
    deque, OrderedDict = _collections.deque, _collections.OrderedDict
    int_of, float_of, complex_of = int.__int__, float.__float__, complex.__complex__
    str_of, bytes_of = str.__str__, bytes.__bytes__
    list_iter, tuple_iter, set_iter, deque_iter = list.__iter__, tuple.__iter__, set.__iter__, deque.__iter__
    frozenset_iter, dict_items = frozenset.__iter__, dict.items
    binary = frozenset(
        ['__eq__', '__ne__', '__lt__', '__le__', '__gt__', '__ge__', '__contains__'] +
        [f'__{p}{op}__' for op in ('add', 'sub', 'mul', 'matmul', 'truediv', 'floordiv', 'mod',
                                   'divmod', 'pow', 'lshift', 'rshift', 'and', 'xor', 'or')
         for p in ('', 'r', 'i')])
    trusted = {}

    class UntrustedValue(AssertionError):
        pass

    def trusted_type(t):
        entry = trusted.get(_id(t))
        if entry is not None and entry[0] is t:
            return entry[1]
        known = True
        for c in mro(t):
            if flags(c) & HEAPTYPE and not binary.isdisjoint(tdict(c)):
                known = False
                break
        trusted[_id(t)] = (t, known)
        return known

    def norm(v, depth):
        t = _type(v)
        if ATOMS.get(_id(t)) is t:
            return v
        if depth > 100:
            raise UntrustedValue('value nested more than 100 levels deep')
        d = depth + 1
        if _issubclass(t, _list):
            return [norm(x, d) for x in list_iter(v)]
        if _issubclass(t, _tuple):
            return _tuple([norm(x, d) for x in tuple_iter(v)])
        if _issubclass(t, _dict):
            out = {norm(k, d): norm(x, d) for k, x in dict_items(v)}
            return OrderedDict(out) if _issubclass(t, OrderedDict) else out
        if _issubclass(t, _set):
            return {norm(x, d) for x in set_iter(v)}
        if _issubclass(t, _frozenset):
            return _frozenset([norm(x, d) for x in frozenset_iter(v)])
        if _issubclass(t, deque):
            return deque([norm(x, d) for x in deque_iter(v)])
        if _issubclass(t, _bool):
            return _bool(v)
        if _issubclass(t, _int):
            return int_of(v)
        if _issubclass(t, _float):
            return float_of(v)
        if _issubclass(t, _complex):
            return complex_of(v)
        if _issubclass(t, _str):
            return str_of(v)
        if _issubclass(t, _bytes):
            return bytes_of(v)
        if trusted_type(t):
            return v
        raise UntrustedValue(f'the sample produced a {tname(t)} object that defines its own '
                             'comparison or arithmetic; such values are not compared')

    ops = {'==': eq, '!=': ne, '<': lt, '<=': le, '>': gt, '>=': ge}

    def cmp(op, a, b):
        if op == 'is':
            return is_(a, b)
        if op == 'is not':
            return is_not(a, b)
        a, b = norm(a, 0), norm(b, 0)
        if op == 'in':
            return contains(b, a)
        if op == 'not in':
            return not contains(b, a)
        return ops[op](a, b)

    def chain(op_names, *operands):
        for i in _range(_len(op_names)):
            if not cmp(op_names[i], operands[i], operands[i + 1]):
                return False
        return True

    def guard(fn):
        def guarded(*args, **kwargs):
            return norm(fn(*args, **kwargs), 0)
        guarded.__name__ = _getattr(fn, '__name__', 'candidate')
        guarded.__doc__ = _getattr(fn, '__doc__', None)
        return guarded

    return cmp, chain, guard


def _lcte_install_hook():
    # The audit hook that keeps sample code away from the driver's state: no
    # frames (so no driver locals, where the token lives), no gc walks, no
    # tracing, no ctypes or test modules, no /proc files (process memory), no
    # swapping of function code. It is installed once per interpreter and
    # cannot be removed; it stays on for the driver too, except inside
    # permit(True) sections that read C-level objects only. Returns permit.
    import sys
    deny = frozenset(('sys.settrace', 'sys.setprofile', 'sys._current_frames',
                      'sys._current_exceptions', 'gc.get_objects', 'gc.get_referrers',
                      'gc.get_referents', 'code.__new__', 'sys.addaudithook'))
    frame_attrs = frozenset(('tb_frame', 'gi_frame', 'cr_frame', 'ag_frame', 'f_back', 'f_code'))
    guarded_attrs = frozenset(('__code__', '__defaults__', '__kwdefaults__'))
    modules = ('ctypes', '_ctypes', '_test', '_xxsubinterpreters', '_xxtestfuzz', '_xxinterpchannels')
    allowed = [False]
    busy = [False]  # the hook's own O_PATH open raises an audit event too
    resolve, _isinstance, _str, _bytes, _type = _lcte_resolver(), isinstance, str, bytes, type
    ModuleType = type(sys)

    def hook(event, args):
        if allowed[0] and event != 'sys.addaudithook':
            return
        if busy[0]:
            return
        if event in deny:
            raise RuntimeError(f'sandbox: {event} is not allowed')
        if event == 'sys._getframe':
            raise ValueError('sandbox: the call stack is not available')
        if event == 'object.__getattr__':
            if args[1] in frame_attrs:
                raise AttributeError(f'sandbox: {args[1]} is not available')
        elif event == 'object.__setattr__' or event == 'object.__delattr__':
            if args[1] in guarded_attrs or _type(args[0]) is ModuleType or _isinstance(args[0], ModuleType):
                raise RuntimeError(f'sandbox: changing {args[1]} is not allowed')
        elif event == 'import':
            if _isinstance(args[0], _str) and args[0].startswith(modules):
                raise ImportError(f'sandbox: module {args[0]} is not available')
        elif event == 'open':
            path = args[0]
            if _isinstance(path, _bytes):
                path = path.decode('utf-8', 'replace')
            if not _isinstance(path, _str):
                return  # a descriptor the process already holds
            busy[0] = True
            try:
                landing = resolve(path)
            finally:
                busy[0] = False
            if path.startswith('/proc') or (landing is not None and landing.startswith('/proc')):
                raise PermissionError(f'sandbox: {path} is not available')

    def permit(flag):
        allowed[0] = flag

    sys.addaudithook(hook)
    return permit


def _lcte_resolver():
    # Where an open() of `path` would land, as the kernel resolves it (links,
    # .., the working directory, paths longer than PATH_MAX): open it with
    # O_PATH, which reads nothing, and ask /proc/self/fd. None if it does not
    # exist yet (a new file cannot be created inside /proc).
    import posix
    O_PATH = 0o10000000
    flags = O_PATH | posix.O_CLOEXEC
    _open, _close, _readlink, _str = posix.open, posix.close, posix.readlink, str

    def resolve(path):
        try:
            fd = _open(path, flags)
        except OSError:
            return None
        try:
            return _readlink('/proc/self/fd/' + _str(fd))
        except OSError:
            return None
        finally:
            _close(fd)

    return resolve


def _lcte_zygote(preload):
    # A warm interpreter that forks one confined child per request. It never
    # runs untrusted code itself; each child applies the limits, drops to the
    # sample user and runs _lcte_sample. After a child ends, every other
    # process in the worker's PID namespace is killed and the work directory
    # emptied, so the next sample starts from the same state.
    #
    # Control socket (fd 3, SOCK_SEQPACKET): request "AS CPU FSIZE NPROC NOFILE\n"
    # followed by the suite's setup, tests and check (each u32 length + UTF-8,
    # or nothing), with three descriptors (stdout, stderr, sample socket)
    # attached; 'K'
    # kills the running sample; reply "R exit|signal VALUE CPU MAXRSS_KB STOP".
    import sys, posix, resource, _signal, select, _socket, time, gc
    for name in preload:
        try:
            __import__(name)
        except ImportError:
            pass
    permit = _lcte_install_hook()  # after the preloads, which may look at frames
    checker = _lcte_checker()  # bound to the pristine builtins, like a child's own
    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
    _signal.signal(_signal.SIGPIPE, _signal.SIG_IGN)
    ctl = _socket.socket(fileno=3)
    me = posix.getpid()
    SAMPLE_UID = 65534
    SUITE_MAX = 64 << 10  # the harness sends larger suites to the child only
    WORK = '/tmp/w'
    limit_ids = (resource.RLIMIT_AS, resource.RLIMIT_CPU, resource.RLIMIT_FSIZE,
                 resource.RLIMIT_NPROC, resource.RLIMIT_NOFILE)

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
        posix.chown(WORK, SAMPLE_UID, SAMPLE_UID)
        posix.chmod(WORK, 0o700)

    def kill_others():
        # SIGKILL everything in the namespace but init (1) and us until nothing
        # is left (zombies vanish once init or we reap them); retire the worker
        # if something will not go.
        for _ in range(10000):
            others = [int(p) for p in posix.listdir('/proc') if p.isdigit() and int(p) not in (1, me)]
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

    def start(values, prepared, out_fd, err_fd, sample_fd):
        # Objects moved to the permanent generation are never traversed by the
        # child's collector, which would otherwise write to (and so copy) the
        # pages of every object the zygote holds.
        gc.freeze()
        pid = posix.fork()
        if pid:
            return pid
        try:
            posix.dup2(sample_fd, 3)
            posix.dup2(out_fd, 1)
            posix.dup2(err_fd, 2)
            posix.closerange(4, 1 << 16)
            for rid, value in zip(limit_ids, values):
                resource.setrlimit(rid, (value, value + 1 if rid == resource.RLIMIT_CPU else value))
            posix.chdir(WORK)
            posix.setgroups([])
            posix.setresgid(SAMPLE_UID, SAMPLE_UID, SAMPLE_UID)
            posix.setresuid(SAMPLE_UID, SAMPLE_UID, SAMPLE_UID)
            _signal.signal(_signal.SIGINT, _signal.default_int_handler)
            _lcte_sample((1, me, posix.getpid()), permit, prepared, checker)
        except BaseException as e:
            try:
                posix.write(2, f'lcte sandbox: child setup failed: {e!r}\n'.encode())
            finally:
                posix._exit(126)
        posix._exit(0)

    def prepare(frame):
        # The suite's trusted parts, when the harness sent them along with the
        # request, compiled here once for every sample of the task (and once,
        # warm, rather than in each cold forked child): None if not sent,
        # False if malformed. Never sample code: that goes to the child only.
        if not frame:
            return None
        entry = compiled.get(frame)
        if entry is None:
            parts, pos = [], 0
            for _ in range(3):
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

    compiled = {}
    fresh_workdir()
    ctl.sendall(b'ready')
    while True:
        try:
            msg, fds = _lcte_recv_fds(ctl, 4096 + SUITE_MAX, 3)
        except OSError:
            break
        if not msg:
            break
        header, _, suite = msg.partition(b'\n')
        try:
            values = [int(x) for x in header.decode().split()]
        except ValueError:
            values = []
        prepared = prepare(suite) if len(fds) == 3 and len(values) == 5 else None
        if len(fds) != 3 or len(values) != 5 or prepared is False:
            for fd in fds:
                posix.close(fd)
            ctl.sendall(b'X bad request')
            continue
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        pid = start(values, prepared, *fds)
        for fd in fds:
            posix.close(fd)
        pidfd = posix.pidfd_open(pid)
        stop = 0
        while True:
            ready, _, _ = select.select([pidfd, ctl], [], [], 0.05)
            if ctl in ready:
                request = ctl.recv(64)
                if not request:  # the harness is gone
                    posix.kill(pid, 9)
                    kill_others()
                    posix._exit(0)
                if request.startswith(b'K'):
                    posix.kill(pid, 9)
            done, status, usage = posix.wait4(pid, posix.WNOHANG | posix.WUNTRACED)
            if done and posix.WIFSTOPPED(status):
                # it stopped itself (SIGSTOP): nobody would continue it
                stop = stop or posix.WSTOPSIG(status)
                posix.kill(pid, 9)
            elif done:
                break
        posix.close(pidfd)
        alone = kill_others()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        peak = usage.ru_maxrss  # KiB, of the sample and the children it waited for
        if posix.WIFEXITED(status):
            kind, value = 'exit', posix.WEXITSTATUS(status)
        else:
            kind, value = 'signal', posix.WTERMSIG(status)
        ctl.sendall(f'R {kind} {value} {cpu:.6f} {peak} {stop}'.encode())
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


def _lcte_exit(code=None):
    raise SystemExit(code)


def _lcte_exception():
    try:
        raise Exception
    except Exception as e:
        return e


def _lcte_main():
    import sys
    # types reads a traceback's frame when it is first imported, which the
    # audit hook would refuse; import it while no hook is installed.
    import types
    if sys.argv[1] == 'once':
        allowed_pids = tuple(int(p) for p in sys.argv[2].split(',')) if sys.argv[2] else ()
        _lcte_sample(allowed_pids, _lcte_install_hook())
    else:
        _lcte_zygote([name for name in sys.argv[2].split(',') if name])


_lcte_main()
