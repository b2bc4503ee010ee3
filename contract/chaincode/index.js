'use strict';
// Entry point for fabric-chaincode-node (`fabric-chaincode-node server --chaincode-address … --chaincode-id …`).

const {VmLedgerContract} = require('./lib/contract');

module.exports.VmLedgerContract = VmLedgerContract;
module.exports.contracts = [VmLedgerContract];
