// app.js — the review page: loads proposals from the JSON API, draws the
// grid and turns keys into decisions. Every piece of data goes into the page
// through textContent or a checked attribute, never as HTML. Actions run one
// after another (a queue), so fast typing never loses or reorders a key.
'use strict';
(() => {
  const token = new URLSearchParams(location.search).get('token') || '';
  const REASONS = ['ambiguous', 'several objects', 'not a photograph', 'wrong label',
    'duplicate', 'offensive', 'other'];
  const PAGE = 60;
  const $ = (id) => document.getElementById(id);
  const st = {
    offset: 0, total: 0, items: [], focus: 0, undo: [], classes: [], target: 50,
    reasonMode: false, pending: 0,
  };
  let queue = Promise.resolve();

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function pct(p) {
    return (100 * p).toFixed(1) + '%';
  }

  function say(msg, bad) {
    const s = $('status');
    s.textContent = msg;
    s.classList.toggle('bad', !!bad);
  }

  // Runs fn after every earlier action; body[data-pending] counts the waiting ones.
  function enqueue(fn) {
    st.pending++;
    document.body.dataset.pending = st.pending;
    queue = queue.then(fn).catch((err) => say(err.message, true)).finally(() => {
      st.pending--;
      document.body.dataset.pending = st.pending;
    });
  }

  async function api(path, body) {
    const opts = { headers: { 'X-Natadv-Token': token }, cache: 'no-store' };
    if (body !== undefined) {
      opts.method = 'POST';
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    const res = await fetch(path, opts);
    let data = null;
    try {
      data = await res.json();
    } catch (e) {
      data = null;
    }
    if (!res.ok) throw new Error((data && data.error) || res.status + ' ' + res.statusText);
    return data;
  }

  function imageUrl(kind, hash) {
    return '/' + kind + '/' + encodeURIComponent(hash) + '?token=' + encodeURIComponent(token);
  }

  // Only http(s) links from the outside world become links.
  function safeHref(u) {
    return typeof u === 'string' && /^https?:\/\//i.test(u) ? u : null;
  }

  function field(label, value) {
    const d = el('div', 'field');
    d.append(el('span', 'k', label), el('span', 'v', value === null || value === undefined ? '—' : value));
    return d;
  }

  function card(p, i) {
    const c = el('article', 'card');
    c.tabIndex = -1;
    c.dataset.id = p.id;
    if (p.decision) c.classList.add(p.decision === 'accept' ? 'accepted' : 'rejected');
    const img = el('img', 'thumb');
    img.alt = '';
    img.loading = 'lazy';
    img.src = imageUrl('thumb', p.image_hash);
    img.addEventListener('click', () => {
      setFocus(i);
      openViewer(p);
    });
    c.addEventListener('click', () => setFocus(i));
    c.append(img);
    if (p.source_wnid) {
      // rule 'ood': an out-of-distribution photo the model calls an ImageNet class
      c.append(field('source synset', p.source_name + ' (' + p.source_wnid + ')'));
      c.append(field('predicted class', p.pred_name + ' (' + p.pred_wnid + ') ' + pct(p.confidence)));
    } else {
      c.append(field('true class', p.class_name + ' (' + p.wnid + ')'));
      c.append(field('prediction', p.pred_name + ' (' + p.pred_wnid + ') ' + pct(p.confidence)));
      c.append(field('true-class prob', pct(p.true_prob)));
    }
    c.append(field('source', p.source));
    c.append(field('licence', p.license));
    c.append(field('author', p.author));
    if (p.title) c.append(field('title', p.title));
    const href = safeHref(p.page_url);
    if (href) {
      const a = el('a', 'page', 'source page');
      a.href = href;
      a.rel = 'noopener noreferrer';
      a.target = '_blank';
      c.append(a);
    }
    const badge = p.decision === 'accept' ? 'accepted'
      : p.decision === 'reject' ? 'rejected: ' + (p.reason || '') : 'undecided';
    c.append(el('div', 'badge', badge + (p.reviewer ? ' by ' + p.reviewer : '')));
    return c;
  }

  function cards() {
    return $('grid').querySelectorAll('.card');
  }

  function setFocus(i) {
    const cs = cards();
    if (!cs.length) return;
    st.focus = Math.max(0, Math.min(i, cs.length - 1));
    cs.forEach((c, k) => c.classList.toggle('focused', k === st.focus));
    cs[st.focus].focus();
    cs[st.focus].scrollIntoView({ block: 'nearest' });
  }

  // Cards per row, from where they were laid out.
  function columns() {
    const cs = cards();
    let n = 0;
    while (n < cs.length && cs[n].offsetTop === cs[0].offsetTop) n++;
    return Math.max(1, n);
  }

  function filters() {
    const q = new URLSearchParams();
    if ($('f-class').value) q.set('class', $('f-class').value);
    q.set('state', $('f-state').value);
    const min = $('f-min').value.trim(), max = $('f-max').value.trim();
    if (min) q.set('min_conf', min);
    if (max) q.set('max_conf', max);
    q.set('offset', st.offset);
    q.set('limit', PAGE);
    return q;
  }

  function drawGrid() {
    const grid = $('grid');
    grid.replaceChildren(...st.items.map(card));
    if (!st.items.length) grid.append(el('p', 'empty', 'no proposals match these filters'));
    const last = Math.min(st.offset + st.items.length, st.total);
    $('range').textContent = st.total ? (st.offset + 1) + '–' + last + ' of ' + st.total : '0 of 0';
    $('prev').disabled = st.offset === 0;
    $('next').disabled = st.offset + PAGE >= st.total;
  }

  // Fetches the page at the current offset; focus goes to focusId when it
  // is on the page, else to index focusAt.
  async function reload(focusAt, focusId) {
    let data = await api('/api/proposals?' + filters());
    if (!data.proposals.length && st.offset > 0) {
      st.offset = Math.max(0, Math.floor((data.total - 1) / PAGE) * PAGE);
      data = await api('/api/proposals?' + filters());
    }
    st.items = data.proposals;
    st.total = data.total;
    drawGrid();
    const byId = st.items.findIndex((p) => p.id === focusId);
    setFocus(byId >= 0 ? byId : focusAt);
    await loadClasses();
  }

  async function loadClasses() {
    const data = await api('/api/classes');
    st.classes = data.classes;
    st.target = data.target;
    $('set').textContent = data.set + ' · ' + data.reviewer;
    const sel = $('f-class');
    const keep = sel.value;
    const opts = [el('option', null, 'all classes')];
    opts[0].value = '';
    const body = $('classes').tBodies[0];
    const rows = [];
    let accepted = 0, classes = 0;
    for (const c of st.classes) {
      if (!c.proposed && c.wnid !== keep) continue;
      classes++;
      accepted += c.accepted;
      const o = el('option', null, c.name + ' (' + c.wnid + ') ' + c.accepted + '/' + st.target);
      o.value = c.wnid;
      opts.push(o);
      const tr = el('tr', c.accepted >= st.target ? 'done' : null);
      tr.append(el('td', null, c.name + ' (' + c.wnid + ')'), el('td', null, c.accepted + '/' + st.target),
        el('td', null, c.rejected), el('td', null, c.proposed));
      rows.push(tr);
    }
    sel.replaceChildren(...opts);
    sel.value = keep;
    body.replaceChildren(...rows);
    const one = st.classes.find((c) => c.wnid === keep);
    $('counter').textContent = one
      ? one.name + ': ' + one.accepted + '/' + st.target + ' accepted'
      : accepted + '/' + st.target * classes + ' accepted in ' + classes + ' classes';
  }

  async function decide(decision, reason) {
    const p = st.items[st.focus];
    if (!p) return;
    const r = await api('/api/decision', { proposal_id: p.id, decision, reason: reason || null });
    st.undo.push({ review_id: r.review_id, proposal_id: p.id });
    say((decision === 'accept' ? 'accepted ' : 'rejected (' + reason + ') ') + p.class_name +
      ' ' + p.image_hash.slice(0, 8) + ' · u undoes');
    // The next card: the same index when the decided one left the list.
    await reload(st.focus, null);
    if (st.items[st.focus] && st.items[st.focus].id === p.id) setFocus(st.focus + 1);
  }

  async function undo() {
    const last = st.undo.pop();
    if (!last) {
      say('nothing to undo');
      return;
    }
    await api('/api/undo', { review_id: last.review_id });
    say('undone: review ' + last.review_id);
    await reload(st.focus, last.proposal_id);
  }

  function openViewer(p) {
    $('full').src = imageUrl('img', p.image_hash);
    $('full-caption').textContent = [p.class_name, p.title, p.author, p.license].filter(Boolean).join(' · ');
    $('viewer').showModal();
  }

  function showReasons(on) {
    st.reasonMode = on;
    $('reasons').hidden = !on;
  }

  function onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t && ['INPUT', 'SELECT', 'TEXTAREA'].includes(t.tagName)) {
      if (e.key === 'Escape') t.blur();
      return;
    }
    const help = $('help'), viewer = $('viewer');
    if (help.open || viewer.open) {
      if (e.key === '?' || e.key === 'Escape') {
        e.preventDefault();
        help.close();
        viewer.close();
        setFocus(st.focus);
      }
      return;
    }
    if (st.reasonMode) {
      e.preventDefault();
      showReasons(false);
      if (/^[1-7]$/.test(e.key)) {
        const reason = REASONS[Number(e.key) - 1];
        enqueue(() => decide('reject', reason));
      } else {
        say('reject cancelled');
      }
      return;
    }
    switch (e.key) {
      case 'ArrowRight': enqueue(() => setFocus(st.focus + 1)); break;
      case 'ArrowLeft': enqueue(() => setFocus(st.focus - 1)); break;
      case 'ArrowDown': enqueue(() => setFocus(st.focus + columns())); break;
      case 'ArrowUp': enqueue(() => setFocus(st.focus - columns())); break;
      case 'a': enqueue(() => decide('accept')); break;
      case 'r': showReasons(true); break;
      case 'u': enqueue(undo); break;
      case 'Enter': if (st.items[st.focus]) openViewer(st.items[st.focus]); break;
      case '?': help.showModal(); break;
      default: return;
    }
    e.preventDefault();
  }

  function refilter() {
    st.offset = 0;
    enqueue(() => reload(0, null));
  }

  function init() {
    document.body.dataset.pending = 0;
    if (!token) {
      say('this page needs the address natadv printed, with its ?token=', true);
      return;
    }
    $('report-link').href = '/report?token=' + encodeURIComponent(token);
    document.addEventListener('keydown', onKey);
    for (const id of ['f-class', 'f-state', 'f-min', 'f-max']) $(id).addEventListener('change', refilter);
    $('filters').addEventListener('submit', (e) => e.preventDefault());
    $('prev').addEventListener('click', () => {
      st.offset = Math.max(0, st.offset - PAGE);
      enqueue(() => reload(0, null));
    });
    $('next').addEventListener('click', () => {
      st.offset += PAGE;
      enqueue(() => reload(0, null));
    });
    $('help-button').addEventListener('click', () => $('help').showModal());
    $('help-close').addEventListener('click', () => $('help').close());
    $('viewer').addEventListener('click', () => $('viewer').close());
    enqueue(() => reload(0, null));
  }

  init();
})();
