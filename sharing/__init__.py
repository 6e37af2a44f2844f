"""The licence sharing API (证照共享): departments reuse licences the government already issued."""
