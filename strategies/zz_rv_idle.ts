export default { onTrade() {}, onBar() {} };
