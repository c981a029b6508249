// Etsy statsd (npm `statsd`, 0.9 and older) logs through util.log, which Node 23 removed: on
// Node 23+ the daemon dies at start with "util.log is not a function". Preload this file to put
// back the same function, with the same output format ("7 Dec 14:10:03 - message"):
//
//   node --require /path/to/statsd-util-log.cjs node_modules/statsd/stats.js config.js
//
// On Node 22 and older util.log still exists and this file changes nothing.
'use strict';
const util = require('node:util');

if (typeof util.log !== 'function') {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n) => String(n).padStart(2, '0');
  util.log = function log(...args) {
    const d = new Date();
    const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    console.log('%s - %s', `${d.getDate()} ${months[d.getMonth()]} ${time}`, util.format(...args));
  };
}
