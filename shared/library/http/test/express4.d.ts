// Express 4, installed as the alias `express4` to test both majors; its API as far as these
// tests use it matches the Express 5 types.
declare module 'express4' {
  import e = require('express');
  export = e;
}
