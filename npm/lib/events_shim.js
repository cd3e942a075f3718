'use strict';
// A minimal `node:events` EventEmitter for the browser bundle: what the
// WebSocket class and its users need (on/once/off/emit/listenerCount and the
// `newListener` event). Not used in Node.

class EventEmitter {
  constructor() {
    this._events = new Map();
  }

  on(ev, fn) {
    if (typeof fn !== 'function') throw new TypeError('the listener must be a function');
    if (this._events.has('newListener')) this.emit('newListener', ev, fn);
    if (!this._events.has(ev)) this._events.set(ev, []);
    this._events.get(ev).push(fn);
    return this;
  }

  addListener(ev, fn) {
    return this.on(ev, fn);
  }

  once(ev, fn) {
    const wrapper = (...args) => {
      this.off(ev, wrapper);
      fn.apply(this, args);
    };
    wrapper.listener = fn;
    return this.on(ev, wrapper);
  }

  off(ev, fn) {
    const list = this._events.get(ev);
    if (!list) return this;
    const i = list.findIndex((f) => f === fn || f.listener === fn);
    if (i >= 0) list.splice(i, 1);
    if (!list.length) this._events.delete(ev);
    return this;
  }

  removeListener(ev, fn) {
    return this.off(ev, fn);
  }

  removeAllListeners(ev) {
    if (ev === undefined) this._events.clear();
    else this._events.delete(ev);
    return this;
  }

  emit(ev, ...args) {
    const list = this._events.get(ev);
    if (!list || !list.length) {
      if (ev === 'error') throw args[0] instanceof Error ? args[0] : new Error(`unhandled error event: ${args[0]}`);
      return false;
    }
    for (const fn of list.slice()) fn.apply(this, args);
    return true;
  }

  listenerCount(ev) {
    const list = this._events.get(ev);
    return list ? list.length : 0;
  }
}

module.exports = { EventEmitter };
